//! The step graph: one step per AWS resource (or attachment, association,
//! route), built from `Settings` alone (pure). Each step is a kind value
//! holding its parameters and typed references to the steps it needs; the
//! edges are those references (`Kind::needs`), written once.
//!
//! The edges are exactly the necessary dependencies of
//! `shared/spec/dependencies.json`: an extra edge would serialise work AWS
//! could do in parallel (a lost minute on a real account), a missing one
//! would make a create fail. A unit test compares the two. `validate` also
//! checks that every step a kind reads without needing it directly
//! (`Kind::reads`) is ordered before it through its needs.
//!
//! Teardown runs the same graph with its edges reversed, plus the kinds
//! SageMaker creates on its own, ordered by their `teardown_order`.

pub mod estimate;
mod stack;

pub use stack::{INTERFACE_ENDPOINTS, build, build_teardown, is_logging_step, is_teardown_only, per_zone};

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::kinds::Kind;
use crate::step_id::StepId;

#[derive(Debug, Clone)]
pub struct Step {
    pub id: StepId,
    pub kind: Arc<dyn Kind>,
    /// The kind's needs (plus, in the teardown graph, the leftovers' order).
    pub needs: Vec<StepId>,
    /// What a day-two `up` changes on its live resource (`Kind::properties`
    /// compared by `lifecycle::converge`); empty otherwise.
    pub changes: Vec<crate::kinds::PropChange>,
}

impl Step {
    fn new(id: StepId, kind: impl Kind + 'static) -> Step {
        let needs = kind.needs();
        Step { id, kind: Arc::new(kind), needs, changes: Vec::new() }
    }

    /// Human name of the resource kind, for messages ("creating NAT gateway").
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }

    /// Its kind as the concrete type `K`, if it is one (what `verify` reads
    /// of the routes the graph declares).
    pub fn kind_as<K: Kind>(&self) -> Option<&K> {
        let any: &dyn std::any::Any = self.kind.as_ref();
        any.downcast_ref::<K>()
    }
}

#[derive(Debug, Clone)]
pub struct Graph {
    pub steps: Vec<Step>,
    index: HashMap<StepId, usize>,
}

impl Graph {
    fn new(steps: Vec<Step>) -> Graph {
        let index = steps.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        let g = Graph { steps, index };
        if let Err(e) = g.validate() {
            panic!("step graph is invalid: {e}");
        }
        g
    }

    pub fn get(&self, id: &StepId) -> Option<&Step> {
        self.index.get(id).map(|&i| &self.steps[i])
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// Every need names a step, ids are unique, every step a kind reads is
    /// ordered before it through its needs, and there is no cycle (the
    /// steps a cycle blocks are reported, in a stable order).
    pub fn validate(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        if self.index.len() != self.steps.len() {
            errs.push("duplicate step ids".to_string());
        }
        for s in &self.steps {
            for n in &s.needs {
                if !self.index.contains_key(n) {
                    errs.push(format!("{} needs unknown step {n}", s.id));
                }
            }
        }
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        let mut q = crate::engine::DependencyQueue::new(&self.edges());
        let mut order = 0;
        while let Some(n) = q.pop_ready() {
            q.finish(n);
            order += 1;
        }
        if order != self.steps.len() {
            let stuck: Vec<&str> = q.blocked().iter().map(|&i| self.steps[i].id.as_str()).collect();
            return Err(format!("cycle among: {}", stuck.join(", ")));
        }
        for s in &self.steps {
            for e in s.kind.needs_existing() {
                if !s.needs.contains(&e) {
                    errs.push(format!("{} needs {e} to exist but not among its needs", s.id));
                }
            }
            let before = self.upstream(&s.id);
            for r in s.kind.reads() {
                if self.index.contains_key(&r) && !before.contains(&r) {
                    errs.push(format!("{} reads {r} but is not ordered after it", s.id));
                }
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs.join("; ")) }
    }

    /// Every step `id` transitively needs.
    fn upstream(&self, id: &StepId) -> BTreeSet<StepId> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![id.clone()];
        while let Some(n) = todo.pop() {
            for m in self.get(&n).map(|s| s.needs.as_slice()).unwrap_or_default() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    }

    /// Forward edges as indices: `edges[i]` = the steps step i needs.
    pub fn edges(&self) -> Vec<Vec<usize>> {
        self.steps.iter().map(|s| s.needs.iter().filter_map(|n| self.index.get(n).copied()).collect()).collect()
    }

    /// The needs of each step met once they exist (`Kind::needs_existing`),
    /// as indices: a subset of `edges()`, for `up` only.
    pub fn early_edges(&self) -> Vec<Vec<usize>> {
        self.steps
            .iter()
            .map(|s| s.kind.needs_existing().iter().filter_map(|n| self.index.get(n).copied()).collect())
            .collect()
    }

    /// The steps in an order `up` may create them (each after every step it
    /// needs), as indices; ties in graph order.
    pub fn forward_order(&self) -> Vec<usize> {
        let mut q = crate::engine::DependencyQueue::new(&self.edges());
        let mut order = Vec::new();
        while let Some(n) = q.pop_ready() {
            order.push(n);
            q.finish(n);
        }
        order
    }

    /// The steps in an order `down` may delete them (each after every step
    /// that needs it), as indices; ties in graph order.
    pub fn teardown_order(&self) -> Vec<usize> {
        let mut q = crate::engine::DependencyQueue::new(&self.reversed_edges());
        let mut order = Vec::new();
        while let Some(n) = q.pop_ready() {
            order.push(n);
            q.finish(n);
        }
        order
    }

    /// The steps `keep` selects, each needing the selected steps it needs
    /// directly or through unselected ones (so their order holds): the
    /// steps a day-two `up` removes, as a graph for teardown's engine. Not
    /// `validate`d: what a selected kind reads may be outside the part.
    pub fn part(&self, keep: impl Fn(&StepId) -> bool) -> Graph {
        let mut steps = Vec::new();
        for s in self.steps.iter().filter(|s| keep(&s.id)) {
            let (mut needs, mut seen, mut todo) = (Vec::new(), std::collections::HashSet::new(), s.needs.clone());
            while let Some(n) = todo.pop() {
                if !seen.insert(n.clone()) {
                    continue;
                }
                if keep(&n) {
                    needs.push(n);
                } else if let Some(step) = self.get(&n) {
                    todo.extend(step.needs.iter().cloned());
                }
            }
            steps.push(Step { id: s.id.clone(), kind: s.kind.clone(), needs, changes: Vec::new() });
        }
        let index = steps.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        Graph { steps, index }
    }

    /// Reversed edges for teardown: a step is deleted only after every step
    /// that needs it is gone.
    pub fn reversed_edges(&self) -> Vec<Vec<usize>> {
        let mut rev = vec![Vec::new(); self.steps.len()];
        for (i, s) in self.steps.iter().enumerate() {
            for n in &s.needs {
                if let Some(&j) = self.index.get(n) {
                    rev[j].push(i);
                }
            }
        }
        rev
    }
}

#[cfg(test)]
mod tests;
