"""S3 as a state store (s3_state.py): conditional writes (412 and their atomicity), versions,
GetBucketVersioning's root element, and the TLS-only bucket policy."""
import json
import threading
import time
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from helpers import err

SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
                           "SignedHeaders=host, Signature=0"}


def bucket(s3, versioned=True):
    name = f"state-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def raw_get(emu, path):
    req = urllib.request.Request(emu.url + path, headers=SIGNED)
    with urllib.request.urlopen(req) as r:
        return r.read().decode()


def test_conditional_puts_answer_412_and_every_write_is_a_version(emulator):
    s3 = emulator.client("s3")
    b = bucket(s3)
    first = s3.put_object(Bucket=b, Key="k.lock", Body=b"a", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k.lock", Body=b"b", IfNoneMatch="*")
    assert err(e) == ("PreconditionFailed", 412)
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"v1", IfNoneMatch="*")
    v2 = s3.put_object(Bucket=b, Key="k", Body=b"v2", IfMatch=v1["ETag"])
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"v3", IfMatch=v1["ETag"])  # stale: v2 is current
    assert err(e) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"v2"
    # A conditional delete of the lock: refused on another ETag, done on its own; then it can be taken again.
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="k.lock", IfMatch='"0000"')
    assert err(e) == ("PreconditionFailed", 412)
    s3.delete_object(Bucket=b, Key="k.lock", IfMatch=first["ETag"])
    s3.put_object(Bucket=b, Key="k.lock", Body=b"c", IfNoneMatch="*")
    versions = s3.list_object_versions(Bucket=b, Prefix="k")["Versions"]
    assert sorted(v["VersionId"] for v in versions if v["Key"] == "k") == sorted([v1["VersionId"], v2["VersionId"]])


def test_get_bucket_versioning_answers_versioning_configuration(emulator):
    s3 = emulator.client("s3")
    b = bucket(s3, versioned=False)
    body = raw_get(emulator, f"/{b}?versioning")
    assert "<VersioningConfiguration" in body and "<Status>" not in body, body
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    body = raw_get(emulator, f"/{b}?versioning")
    assert "<VersioningConfiguration" in body and "<Status>Enabled</Status>" in body, body
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"


def test_tls_only_policy_denies_nothing_to_the_emulators_requests_other_denies_stay(emulator):
    s3 = emulator.client("s3")
    b = bucket(s3)
    tls = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
           "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"],
           "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls]}))
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"x"
    s3.delete_object(Bucket=b, Key="k")
    # A plain deny next to it is still moto's to apply.
    deny_get = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls, deny_get]}))
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k")
    assert err(e)[1] == 403


@pytest.fixture
def slow_in_process_server():
    """The emulator's app served in this process, with moto's object store slowed down between
    a conditional write's check and its store (the window two racing writes could share)."""
    from moto.s3.models import S3Backend
    from werkzeug.serving import make_server

    from provision_emulator import __main__ as main, profile

    profile.configure(None, 0.0, False)
    app = main.build_app()
    orig = S3Backend.put_object

    def slow_put(self, *a, **k):
        time.sleep(0.2)
        return orig(self, *a, **k)

    S3Backend.put_object = slow_put
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield url
    finally:
        server.shutdown()
        S3Backend.put_object = orig


def race(url, key_of, n=6, **condition):
    """n clients put the same key at once under `condition`; returns how many succeeded."""
    clients = [boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                            config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}))
               for _ in range(n)]
    b = key_of(clients[0])
    start = threading.Barrier(n)
    won = []

    def go(c, i):
        start.wait()
        try:
            c.put_object(Bucket=b, Key="k", Body=str(i).encode(), **condition)
            won.append(i)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "PreconditionFailed", e.response

    threads = [threading.Thread(target=go, args=(c, i)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won


def test_racing_conditional_writes_have_exactly_one_winner(slow_in_process_server):
    from provision_emulator import s3_state

    def fresh(c):
        return bucket(c)

    assert len(race(slow_in_process_server, fresh, IfNoneMatch="*")) == 1
    # The same race against moto's own handlers (check, then store): several writes win.
    from moto.s3.responses import S3Response

    S3Response.put_object, patched = s3_state._orig_put_object, S3Response.put_object
    try:
        assert len(race(slow_in_process_server, fresh, IfNoneMatch="*")) > 1
    finally:
        S3Response.put_object = patched

    # If-Match on the ETag everyone read: one replaces it, the others are refused.
    c = boto3.client("s3", endpoint_url=slow_in_process_server, region_name="us-east-1",
                     config=Config(s3={"addressing_style": "path"}))
    b = bucket(c)
    etag = c.put_object(Bucket=b, Key="k", Body=b"v0")["ETag"]
    assert len(race(slow_in_process_server, lambda _: b, IfMatch=etag)) == 1
