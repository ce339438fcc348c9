use super::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::file::lock_path;

const WHO: Identity = Identity { stack: "s", region: "us-east-1", account: "123456789012" };

#[test]
fn transitions_persist_atomically_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("st/s.json");
    let st = State::open(&p, &WHO, true).unwrap();
    st.intent(&StepId::VPC, Some("tok".into())).unwrap();
    st.created(&StepId::VPC, "vpc-1", &[("arn", "a".into())]).unwrap();
    let doc = read(&p).unwrap().unwrap();
    assert_eq!(doc.steps["vpc"].id.as_deref(), Some("vpc-1"));
    assert_eq!(doc.steps["vpc"].token.as_deref(), Some("tok"));
    assert_eq!(doc.steps["vpc"].status, Some(Status::Created));
    assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
    let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn token_of_interrupted_create_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    {
        let st = State::open(&p, &WHO, true).unwrap();
        assert_eq!(st.intent(&StepId::NAT, Some("first".into())).unwrap().as_deref(), Some("first"));
    }
    let st = State::open(&p, &WHO, true).unwrap();
    assert_eq!(st.intent(&StepId::NAT, Some("second".into())).unwrap().as_deref(), Some("first"));
}

#[test]
fn second_run_is_refused_while_locked() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    let _a = State::open(&p, &WHO, true).unwrap();
    let e = State::open(&p, &WHO, true).err().unwrap().to_string();
    assert!(e.contains("locked by another provision run"), "{e}");
}

#[test]
fn foreign_and_broken_files_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    let cases: &[(&str, &str)] = &[
        (
            "{\"schema\": 1, \"stack\": \"s\", \"region\": \"eu-west-1\", \"account\": \"123456789012\"}",
            "region 'eu-west-1'",
        ),
        (
            "{\"schema\": 1, \"stack\": \"other\", \"region\": \"us-east-1\", \"account\": \"123456789012\"}",
            "stack 'other'",
        ),
        ("{\"schema\": 1, \"stack\": \"s\", \"region\": \"us-east-1\", \"account\": \"999\"}", "account '999'"),
        ("{\"schema\": 7, \"stack\": \"s\"}", "schema version 7"),
        ("{\"schema\": 1, \"stack\": \"s\", \"regi", "not valid JSON"),
        ("[]", "no schema version"),
    ];
    for (body, want) in cases {
        fs::write(&p, body).unwrap();
        let e = State::open(&p, &WHO, true).err().unwrap().to_string();
        assert!(e.contains(want) && e.contains("s.json"), "{body}: {e}");
        assert_eq!(fs::read_to_string(&p).unwrap(), *body);
    }
}

#[test]
fn a_killed_writes_temporary_file_is_removed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    drop(State::open(&p, &WHO, true).unwrap());
    let stale = dir.path().join("s.json.tmp.4242");
    let other = dir.path().join("s.json.tmp.notes");
    fs::write(&stale, "{").unwrap();
    fs::write(&other, "mine").unwrap();
    drop(State::open(&p, &WHO, true).unwrap());
    assert!(!stale.exists(), "the killed write's temporary file is gone");
    assert!(other.exists(), "a file that is not ours is left alone");
}

#[test]
fn a_version_1_state_moves_its_studio_classic_app_and_becomes_version_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    let v1 = r#"{"schema": 1, "stack": "s", "region": "us-east-1", "account": "123456789012", "steps": {
            "sm.app": {"status": "ready", "id": "d-1/alice/JupyterServer/default", "updated": 1},
            "sm.app.bob": {"status": "ready", "id": "d-1/bob/JupyterServer/default", "updated": 1},
            "sm.user": {"status": "ready", "id": "d-1/alice", "updated": 1}}}"#;
    fs::write(&p, v1).unwrap();
    let st = State::open(&p, &WHO, true).unwrap();
    let doc = st.doc();
    assert_eq!(doc.schema, SCHEMA);
    assert!(!doc.steps.contains_key("sm.app") && !doc.steps.contains_key("sm.app.bob"));
    assert_eq!(doc.steps["sm.classic_app"].id.as_deref(), Some("d-1/alice/JupyterServer/default"));
    assert_eq!(doc.steps["sm.classic_app.bob"].id.as_deref(), Some("d-1/bob/JupyterServer/default"));
    assert_eq!(doc.steps["sm.user"].id.as_deref(), Some("d-1/alice"));
    assert_eq!(read(&p).unwrap().unwrap().schema, 2, "written back as version 2");
    assert_eq!(fs::read_to_string(backup_path(&p)).unwrap(), v1, "the backup keeps version 1");
}

#[test]
fn opening_a_missing_state_to_write_leaves_no_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    let e = State::open(&p, &WHO, false).err().unwrap().to_string();
    assert!(e.contains("no state file"), "{e}");
    assert!(!lock_path(&p).exists(), "no lock file left behind");
    assert!(!p.exists());
}

// The store seam: what `State` guarantees whatever the store, shown with
// an in-memory store that versions its object as S3 does.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Default)]
struct Mem {
    obj: Mutex<Option<(Vec<u8>, u64)>>,
    aside: Mutex<Option<Vec<u8>>>,
    writes: AtomicUsize,
    lost: Arc<AtomicBool>,
}

struct MemLock(Arc<AtomicBool>);

impl Held for MemLock {
    fn id(&self) -> &str {
        "lock-1"
    }
    fn release(&mut self) -> Result<()> {
        Ok(())
    }
    fn lost(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl StateStore for Mem {
    fn what(&self) -> String {
        "state mem://s".into()
    }
    fn location(&self) -> Location {
        Location::S3 { bucket: "mem".into(), key: "s".into() }
    }
    fn restore_hint(&self) -> String {
        String::new()
    }
    fn load(&self) -> Result<Option<Stored>> {
        Ok(self.obj.lock().unwrap().clone().map(|(bytes, v)| Stored { bytes, version: v.to_string() }))
    }
    fn lock(&self, _info: &LockInfo) -> Result<Box<dyn Held>> {
        Ok(Box::new(MemLock(self.lost.clone())))
    }
    fn holder(&self) -> Result<Option<LockInfo>> {
        Ok(None)
    }
    fn backup(&self, _current: &Stored) -> Result<()> {
        Ok(())
    }
    fn save(&self, bytes: &[u8], expected: Option<&str>) -> Result<String> {
        let mut obj = self.obj.lock().unwrap();
        let current = obj.as_ref().map(|(_, v)| v.to_string());
        if current.as_deref() != expected {
            return Err(Conflict(format!("{} changed: expected {expected:?}, found {current:?}", self.what())).into());
        }
        let v = obj.as_ref().map(|(_, v)| v + 1).unwrap_or(1);
        *obj = Some((bytes.to_vec(), v));
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(v.to_string())
    }
    fn save_aside(&self, bytes: &[u8], tag: &str) -> Result<String> {
        *self.aside.lock().unwrap() = Some(bytes.to_vec());
        Ok(format!("mem://s.conflict.{tag}"))
    }
    fn force_unlock(&self, _id: &str) -> Result<LockInfo> {
        bail!("not here")
    }
}

fn mem_state(mem: &Arc<Mem>) -> State {
    State::open_in(mem.clone(), &WHO, true, LockInfo::new("up")).unwrap()
}

#[test]
fn a_state_changed_by_someone_else_is_never_overwritten_and_the_runs_version_is_kept() {
    let mem = Arc::new(Mem::default());
    let st = mem_state(&mem);
    st.created(&StepId::VPC, "vpc-1", &[]).unwrap();
    let theirs =
        b"{\"schema\": 2, \"stack\": \"s\", \"region\": \"us-east-1\", \"account\": \"123456789012\"}".to_vec();
    *mem.obj.lock().unwrap() = Some((theirs.clone(), 99));
    let e = st.created(&StepId::NAT, "nat-1", &[]).unwrap_err();
    assert!(is_conflict(&e), "{e:#}");
    let msg = format!("{e:#}");
    assert!(msg.contains("Nothing was overwritten") && msg.contains("mem://s.conflict.lock-1"), "{msg}");
    assert_eq!(mem.obj.lock().unwrap().as_ref().unwrap().0, theirs, "theirs stays");
    let aside = String::from_utf8(mem.aside.lock().unwrap().clone().unwrap()).unwrap();
    assert!(aside.contains("vpc-1") && aside.contains("nat-1"), "ours is kept: {aside}");
    // Later transitions are refused too, and still land in the run's copy.
    let e = st.created(&StepId::IGW, "igw-1", &[]).unwrap_err();
    assert!(is_conflict(&e));
    assert_eq!(mem.obj.lock().unwrap().as_ref().unwrap().0, theirs);
    assert!(String::from_utf8(mem.aside.lock().unwrap().clone().unwrap()).unwrap().contains("igw-1"));
}

#[test]
fn a_lock_taken_from_the_run_stops_its_writes() {
    let mem = Arc::new(Mem::default());
    let st = mem_state(&mem);
    st.created(&StepId::VPC, "vpc-1", &[]).unwrap();
    let before = mem.obj.lock().unwrap().clone();
    mem.lost.store(true, Ordering::SeqCst);
    let e = st.created(&StepId::NAT, "nat-1", &[]).unwrap_err();
    assert!(is_conflict(&e) && format!("{e:#}").contains("force-unlock"), "{e:#}");
    assert_eq!(*mem.obj.lock().unwrap(), before, "nothing written");
}

#[test]
fn simultaneous_updates_are_each_persisted_before_they_return_in_fewer_writes() {
    let mem = Arc::new(Mem::default());
    let st = mem_state(&mem);
    let written_at_open = mem.writes.load(Ordering::SeqCst);
    std::thread::scope(|s| {
        for t in 0..8 {
            let st = st.clone();
            let mem = mem.clone();
            s.spawn(move || {
                for i in 0..25 {
                    let step = StepId::recorded(format!("x.{t}.{i}"));
                    st.created(&step, &format!("id-{t}-{i}"), &[]).unwrap();
                    // Returned: it is in the stored document.
                    let stored = mem.obj.lock().unwrap().clone().unwrap().0;
                    assert!(String::from_utf8(stored).unwrap().contains(&format!("\"id-{t}-{i}\"")));
                }
            });
        }
    });
    let doc: StateDoc = serde_json::from_slice(&mem.obj.lock().unwrap().clone().unwrap().0).unwrap();
    assert_eq!(doc.steps.len(), 200);
    let writes = mem.writes.load(Ordering::SeqCst) - written_at_open;
    assert!((1..=200).contains(&writes), "{writes} writes for 200 updates");
}
