//! The install plan: in which order packages are unpacked and configured. Pure: it takes the
//! packages' relations and returns data; the runner only executes it.
//!
//! - The *Essential set* is the closure of the `Essential: yes` packages over `Pre-Depends` and
//!   `Depends`: the system that must exist before any maintainer script can run. debroot unpacks
//!   it in one go, then has dpkg configure it (as mmdebstrap does with
//!   `dpkg --install --force-depends` on an extracted essential set).
//! - The other packages follow in *batches*: a package can be unpacked once everything it
//!   `Pre-Depends` on is configured, and a batch is configured in one `dpkg --configure` run, so
//!   it must also hold whatever its members `Depends` on that is not configured yet. Almost every
//!   package lands in the first batch; one that pre-depends on a package outside the Essential set
//!   waits for the batch that configures it.
//! - Within the Essential set, maintainer scripts run in dependency order (dependencies first,
//!   cycles broken by name), the order dpkg itself would use.
//!
//! Every order here is a function of the input alone, sorted by name where nothing else decides.

use std::collections::{BTreeMap, BTreeSet};

use crate::debian::relation::{Dependency, Relation};
use crate::debian::{PackageName, Version};

/// A package as the plan sees it.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: PackageName,
    pub version: Version,
    pub essential: bool,
    pub pre_depends: Vec<Relation>,
    pub depends: Vec<Relation>,
    pub provides: Vec<Dependency>,
}

/// The plan, as indexes into the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The Essential set, dependencies first.
    pub essential: Vec<usize>,
    /// The other packages, batch by batch (each sorted by name).
    pub batches: Vec<Vec<usize>>,
}

/// Which nodes can satisfy an alternative (by name or by `Provides`), regardless of state.
fn satisfiers(nodes: &[Node], dependency: &Dependency) -> Vec<usize> {
    nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| {
            (node.name == dependency.name
                && dependency
                    .constraint
                    .as_ref()
                    .is_none_or(|c| c.admits(&node.version)))
                || node.provides.iter().any(|p| {
                    p.name == dependency.name
                        && match (&dependency.constraint, &p.constraint) {
                            (None, _) => true,
                            (Some(c), Some(provided)) => c.admits(&provided.version),
                            (Some(_), None) => false,
                        }
                })
        })
        .map(|(i, _)| i)
        .collect()
}

/// For each node and each of its relations (Pre-Depends first), the nodes satisfying it.
struct Graph {
    pre: Vec<Vec<Vec<usize>>>,
    all: Vec<Vec<Vec<usize>>>,
}

impl Graph {
    fn new(nodes: &[Node]) -> Self {
        let groups = |relations: &[Relation]| -> Vec<Vec<usize>> {
            relations
                .iter()
                .map(|relation| {
                    // In alternative order: the first satisfier is the one apt would choose.
                    let mut found: Vec<usize> = Vec::new();
                    for alternative in &relation.alternatives {
                        for node in satisfiers(nodes, alternative) {
                            if !found.contains(&node) {
                                found.push(node);
                            }
                        }
                    }
                    found
                })
                .filter(|found| !found.is_empty())
                .collect()
        };
        Graph {
            pre: nodes.iter().map(|n| groups(&n.pre_depends)).collect(),
            all: nodes
                .iter()
                .map(|n| {
                    let mut all = groups(&n.pre_depends);
                    all.extend(groups(&n.depends));
                    all
                })
                .collect(),
        }
    }
}

/// Orders `members` dependencies first (depth-first over `graph.all`, starting from names in
/// byte order; a cycle is broken where the walk meets it).
fn dependency_order(nodes: &[Node], graph: &Graph, members: &BTreeSet<usize>) -> Vec<usize> {
    let mut by_name: Vec<usize> = members.iter().copied().collect();
    by_name.sort_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
    let mut state: BTreeMap<usize, bool> = BTreeMap::new(); // false: visiting, true: done
    let mut order = Vec::new();
    fn visit(
        node: usize,
        nodes: &[Node],
        graph: &Graph,
        members: &BTreeSet<usize>,
        state: &mut BTreeMap<usize, bool>,
        order: &mut Vec<usize>,
    ) {
        if state.contains_key(&node) {
            return;
        }
        state.insert(node, false);
        for group in &graph.all[node] {
            // The first satisfier in the set, by name, is the one the walk follows.
            let mut candidates: Vec<usize> = group
                .iter()
                .copied()
                .filter(|g| members.contains(g))
                .collect();
            candidates.sort_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
            if let Some(&next) = candidates.first() {
                visit(next, nodes, graph, members, state, order);
            }
        }
        state.insert(node, true);
        order.push(node);
    }
    for node in by_name {
        visit(node, nodes, graph, members, &mut state, &mut order);
    }
    order
}

/// Plans the installation of `nodes` (a consistent set, as a lock holds).
pub fn plan(nodes: &[Node]) -> Plan {
    let graph = Graph::new(nodes);
    // The Essential set: closure of Essential: yes over all relations, breadth first from the
    // roots by name; a relation not yet satisfied in the set pulls in its first satisfier.
    let mut roots: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].essential).collect();
    roots.sort_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
    let mut essential: BTreeSet<usize> = roots.iter().copied().collect();
    let mut queue: std::collections::VecDeque<usize> = roots.into_iter().collect();
    while let Some(node) = queue.pop_front() {
        for group in &graph.all[node] {
            if group.iter().any(|g| essential.contains(g)) {
                continue;
            }
            if let Some(&next) = group.first()
                && essential.insert(next)
            {
                queue.push_back(next);
            }
        }
    }
    let essential_order = dependency_order(nodes, &graph, &essential);

    let mut configured: BTreeSet<usize> = essential.clone();
    let mut remaining: BTreeSet<usize> = (0..nodes.len())
        .filter(|i| !essential.contains(i))
        .collect();
    let mut batches = Vec::new();
    while !remaining.is_empty() {
        let satisfied = |groups: &[Vec<usize>], within: &BTreeSet<usize>| {
            groups
                .iter()
                .all(|group| group.iter().any(|g| within.contains(g)))
        };
        // Unpackable: every Pre-Depends satisfied by a configured package.
        let mut batch: BTreeSet<usize> = remaining
            .iter()
            .copied()
            .filter(|&n| satisfied(&graph.pre[n], &configured))
            .collect();
        // Configurable together: every relation satisfied by configured or batch members.
        loop {
            let mut available = configured.clone();
            available.extend(batch.iter().copied());
            let blocked: Vec<usize> = batch
                .iter()
                .copied()
                .filter(|&n| !satisfied(&graph.all[n], &available))
                .collect();
            if blocked.is_empty() {
                break;
            }
            for n in blocked {
                batch.remove(&n);
            }
        }
        if batch.is_empty() {
            // A Pre-Depends cycle outside the Essential set: configure what can be unpacked.
            batch = remaining
                .iter()
                .copied()
                .filter(|&n| satisfied(&graph.pre[n], &configured))
                .collect();
            if batch.is_empty() {
                batch = remaining.clone();
            }
        }
        let mut ordered: Vec<usize> = batch.iter().copied().collect();
        ordered.sort_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
        for n in &ordered {
            remaining.remove(n);
            configured.insert(*n);
        }
        batches.push(ordered);
    }
    Plan {
        essential: essential_order,
        batches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debian::relation::{self, FieldKind};

    fn node(name: &str, essential: bool, pre: &str, depends: &str) -> Node {
        Node {
            name: PackageName::parse(name).unwrap(),
            version: Version::parse("1.0").unwrap(),
            essential,
            pre_depends: relation::parse(FieldKind::PreDepends, pre).unwrap(),
            depends: relation::parse(FieldKind::Depends, depends).unwrap(),
            provides: Vec::new(),
        }
    }

    fn names(nodes: &[Node], list: &[usize]) -> Vec<String> {
        list.iter().map(|&i| nodes[i].name.to_string()).collect()
    }

    #[test]
    fn essential_closure_in_dependency_order() {
        let nodes = vec![
            node("dpkg", true, "libc6", "tar"),
            node("libc6", false, "", "libgcc-s1"),
            node("libgcc-s1", false, "", "libc6"),
            node("tar", true, "libc6", ""),
            node("hello", false, "", "libc6"),
        ];
        let plan = plan(&nodes);
        assert_eq!(
            names(&nodes, &plan.essential),
            ["libgcc-s1", "libc6", "tar", "dpkg"]
        );
        assert_eq!(plan.batches.len(), 1);
        assert_eq!(names(&nodes, &plan.batches[0]), ["hello"]);
    }

    #[test]
    fn pre_depends_outside_the_essential_set_wait_for_their_batch() {
        let nodes = vec![
            node("base", true, "", ""),
            node("login", false, "login.defs", ""),
            node("login.defs", false, "", ""),
            node("libpam-modules", false, "libaudit1", ""),
            node("libaudit1", false, "", "libaudit-common"),
            node("libaudit-common", false, "", ""),
            node("libpam-runtime", false, "", "libpam-modules"),
        ];
        let plan = plan(&nodes);
        assert_eq!(plan.batches.len(), 2);
        assert_eq!(
            names(&nodes, &plan.batches[0]),
            ["libaudit-common", "libaudit1", "login.defs"]
        );
        assert_eq!(
            names(&nodes, &plan.batches[1]),
            ["libpam-modules", "libpam-runtime", "login"]
        );
    }

    #[test]
    fn the_order_of_the_input_does_not_matter() {
        let mut nodes = vec![
            node("aa", true, "", "bb | cc"),
            node("bb", false, "", ""),
            node("cc", false, "", ""),
            node("dd", false, "ee", ""),
            node("ee", false, "", "ff"),
            node("ff", false, "", ""),
        ];
        let first = plan(&nodes);
        let first_names = (
            names(&nodes, &first.essential),
            first
                .batches
                .iter()
                .map(|b| names(&nodes, b))
                .collect::<Vec<_>>(),
        );
        nodes.reverse();
        let second = plan(&nodes);
        let second_names = (
            names(&nodes, &second.essential),
            second
                .batches
                .iter()
                .map(|b| names(&nodes, b))
                .collect::<Vec<_>>(),
        );
        assert_eq!(first_names, second_names);
    }
}
