//! Which package holds each location of the root: claim arbitration, pure (no I/O). The rules
//! are one function, [`arbitrate`]; the [`Ledger`] remembers who holds what and asks it.
//!
//! A *location* is where a member lands: its parent directory as the kernel resolves it inside
//! the root (symlinks followed) and its own name. It is never the path as a package writes it:
//! `bin/tool` through `bin -> usr/bin` is `usr/bin/tool`, so two packages that ship one file
//! under two spellings are seen to collide, whichever spelling comes first.
//!
//! The extractor (`extract`) places the members of a batch in plan order (packages are decoded
//! in parallel, but placed one after the other), and asks [`Ledger::decide`] about each member
//! before touching the disk. So every verdict is the one dpkg gives when it unpacks the packages
//! one by one in plan order, and it depends on nothing else: not on threads, not on CPUs, not on
//! which package's data was decoded first.
//!
//! The rules, for a member of package `new` at a location an earlier package `old` holds
//! (nothing holds it: the member is created there):
//!
//! | `old` holds \ `new` ships | directory | regular file, hard link | symlink |
//! | --- | --- | --- | --- |
//! | directory | shared (its attributes: the earliest package that ships it) | conflict | conflict, but see merged /usr |
//! | regular file, hard link | conflict | `Replaces` | `Replaces` |
//! | symlink | the directory member follows the link (dpkg keeps the link) | `Replaces` | `Replaces` |
//!
//! - **`Replaces`** (dpkg's rule, either way round): if `new` replaces `old`, `new`'s member
//!   takes the location; if `old` replaces `new`, `old`'s stays and `new`'s is dropped; else the
//!   two conflict.
//! - **A directory never becomes a symlink** (docs/THREATS.md G4). dpkg does not replace a
//!   directory by a symlink either (it keeps the directory and drops the link); debroot refuses the
//!   package, exit 7, instead of building a tree that differs from what the package asked for
//!   without a word. The one exception is [`is_merged_usr_link`]: merged /usr (`bin -> usr/bin`,
//!   ...) makes `bin/x` and `usr/bin/x` one file by design, base-files ships these links from
//!   trixie on, and a package earlier in the plan may still ship `./bin/...` (every bookworm
//!   package that has files in `/bin` does): the link takes the directory's place and the
//!   directory's contents move to `usr/bin`, the tree dpkg gives when the links exist before it
//!   unpacks (debootstrap and mmdebstrap make them first).
//! - A directory member where an earlier package's symlink is follows the link, as dpkg does
//!   (`var/run -> /run` from base-files, then a package's `./var/run/foo/`); the extractor
//!   checks that the link resolves to a directory inside the root.
//! - A second member of the same package at one location (through a link of another package:
//!   `bin/x` and `usr/bin/x`) is a duplicate, unless both are directories.
//! - **Multi-Arch: same** instances of one package (`libc6:amd64` and `libc6:i386`, one version)
//!   share the files both ship, as dpkg does (a non-directory member of the later instance
//!   gives way to the earlier's: [`Claimant::shares_with`], decided as `Keep`; the extractor
//!   then checks that a shared regular file has the same contents, which dpkg requires too).

use std::collections::BTreeMap;

use crate::debian::Version;
use crate::debian::relation::Dependency;
use crate::tar::read::Kind;

/// The top-level names merged /usr turns into links to `usr/NAME` (usrmerge's list; base-files
/// ships `bin`, `sbin`, `lib` and the architecture's `lib64`-style folder).
pub const MERGED_USR: [&str; 7] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32", "libo32"];

/// Whether a symlink at `location` to `target` is one of merged /usr's links: `NAME -> usr/NAME`
/// or `NAME -> /usr/NAME` at the top of the root, `NAME` in [`MERGED_USR`].
pub fn is_merged_usr_link(location: &[u8], target: &[u8]) -> bool {
    MERGED_USR.iter().any(|name| {
        let name = name.as_bytes();
        location == name
            && target
                .strip_prefix(b"/")
                .unwrap_or(target)
                .strip_prefix(b"usr/")
                .is_some_and(|rest| rest == name)
    })
}

/// A package as arbitration needs to know it.
#[derive(Debug, Clone)]
pub struct Claimant {
    /// Position in the plan: earlier packages are unpacked first by dpkg.
    pub order: usize,
    pub name: String,
    pub version: Version,
    pub replaces: Vec<Dependency>,
    /// `Multi-Arch: same`: instances of other architectures may share its files.
    pub multi_arch_same: bool,
}

impl Claimant {
    /// Whether `self` and `other` are two instances of one `Multi-Arch: same` package (one name,
    /// one version, other architectures), which dpkg lets share the files both ship.
    pub fn shares_with(&self, other: &Claimant) -> bool {
        self.multi_arch_same
            && other.multi_arch_same
            && self.name == other.name
            && self.version == other.version
    }

    /// Whether this package `Replaces` `other` (by name, the version in range).
    pub fn replaces(&self, other: &Claimant) -> bool {
        self.replaces.iter().any(|d| {
            d.name.as_str() == other.name
                && d.constraint
                    .as_ref()
                    .is_none_or(|c| c.admits(&other.version))
        })
    }
}

/// (mode, uid, gid) of a directory.
pub type Attributes = (u32, u32, u32);

/// What holds a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The claimant (an index into the ledger's claimants).
    pub claimant: usize,
    pub kind: Kind,
    /// A symlink that is one of merged /usr's links ([`is_merged_usr_link`]).
    pub merged_usr: bool,
    /// Owner (uid, gid) of a non-directory, for builds that record owners instead of setting
    /// them.
    pub owner: (u32, u32),
    /// For a directory: what the extractor knows of it.
    pub directory: Option<Directory>,
}

/// A directory some package ships (or needed as a parent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directory {
    /// The attributes of the earliest package that ships it as a member; `None` while only
    /// missing parents made it (then it keeps mode 0755, owner root).
    pub attributes: Option<Attributes>,
    /// Whether this build made it (else it existed before, and is left as it is, as dpkg does).
    pub created: bool,
    /// Whether its attributes are on disk already.
    pub applied: bool,
}

/// Two packages that cannot both have their member at one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The later package in plan order (the one dpkg would be unpacking).
    pub later: usize,
    /// The earlier one.
    pub earlier: usize,
    pub earlier_kind: Kind,
    pub later_kind: Kind,
}

/// What to do with a member at a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing holds the location: create the member (over whatever no package of this build
    /// put there, unless that is a directory).
    Create,
    /// An earlier package's non-directory gives way to this member (`Replaces`).
    Replace {
        previous: usize,
    },
    /// The earlier package keeps the location (it `Replaces` this one); this member is dropped.
    Keep {
        holder: usize,
    },
    /// A directory of several packages: it stays.
    Share,
    /// A directory member where an earlier package's symlink is: the link stays and is followed.
    Follow,
    /// Merged /usr: the link takes the place of the directory, whose contents move to the link's
    /// target.
    TakeDirectory,
    Conflict(Conflict),
    /// A second member of the same package at this location (not both directories).
    Duplicate,
}

/// One side of an arbitration: a package (its claimant index and what arbitration needs of it)
/// and the kind of its member at the location.
#[derive(Debug, Clone, Copy)]
pub struct Party<'a> {
    pub index: usize,
    pub claimant: &'a Claimant,
    pub kind: Kind,
}

/// The arbitration rules of the module docs, as a pure function: what to do with `new`'s member
/// at a location `old`'s member holds (`merged_usr`: `new`'s member is one of merged /usr's
/// links, [`is_merged_usr_link`]). The [`Ledger`] finds `old`; the extractor acts on the answer.
pub fn arbitrate(old: Party<'_>, new: Party<'_>, merged_usr: bool) -> Decision {
    if old.index == new.index {
        return if old.kind == Kind::Dir && new.kind == Kind::Dir {
            Decision::Share
        } else {
            Decision::Duplicate
        };
    }
    let conflict = || {
        let (earlier, later) = if old.claimant.order <= new.claimant.order {
            (old, new)
        } else {
            (new, old)
        };
        Decision::Conflict(Conflict {
            later: later.index,
            earlier: earlier.index,
            earlier_kind: earlier.kind,
            later_kind: later.kind,
        })
    };
    match (old.kind, new.kind) {
        (Kind::Dir, Kind::Dir) => Decision::Share,
        (Kind::Dir, Kind::Symlink) if merged_usr => Decision::TakeDirectory,
        (Kind::Symlink, Kind::Dir) => Decision::Follow,
        (Kind::Dir, _) | (_, Kind::Dir) => conflict(),
        _ => {
            if old.claimant.shares_with(new.claimant) {
                Decision::Keep { holder: old.index }
            } else if new.claimant.replaces(old.claimant) {
                Decision::Replace {
                    previous: old.index,
                }
            } else if old.claimant.replaces(new.claimant) {
                Decision::Keep { holder: old.index }
            } else {
                conflict()
            }
        }
    }
}

/// Where a member of `package` at `path` lands, given the diversion of `path` in force
/// (`(diverted-to path, diverting package)`, see `extract::Diversions`): dpkg writes a diverted
/// file or link to its diverted name, unless this package is the one that diverts it;
/// directories are never diverted.
pub fn landing_path<'a>(
    path: &'a [u8],
    diversion: Option<&'a (Vec<u8>, String)>,
    package: &str,
    kind: Kind,
) -> &'a [u8] {
    match diversion {
        Some((to, by)) if by != package && kind != Kind::Dir => to.strip_prefix(b"/").unwrap_or(to),
        _ => path,
    }
}

/// Every location claimed in a build, with its holder, and the packages that claim them.
#[derive(Debug, Default)]
pub struct Ledger {
    claimants: Vec<Claimant>,
    locations: BTreeMap<Vec<u8>, Holder>,
}

impl Ledger {
    /// Registers a package; returns its claimant index.
    pub fn register(&mut self, claimant: Claimant) -> usize {
        self.claimants.push(claimant);
        self.claimants.len() - 1
    }

    pub fn claimant(&self, index: usize) -> &Claimant {
        &self.claimants[index]
    }

    pub fn get(&self, location: &[u8]) -> Option<&Holder> {
        self.locations.get(location)
    }

    /// What to do with a member of `claimant` of `kind` at `location` (`merged_usr`: it is one
    /// of merged /usr's links). Members are decided in plan order, so whatever holds the
    /// location came from an earlier package (or an earlier member of the same one).
    pub fn decide(
        &self,
        location: &[u8],
        claimant: usize,
        kind: Kind,
        merged_usr: bool,
    ) -> Decision {
        match self.locations.get(location) {
            None => Decision::Create,
            Some(old) => self.pair(old, claimant, kind, merged_usr),
        }
    }

    /// What to do with a member of `claimant` of `kind` where `old` (an earlier member) is
    /// ([`arbitrate`] with the two claimants).
    pub fn pair(&self, old: &Holder, claimant: usize, kind: Kind, merged_usr: bool) -> Decision {
        arbitrate(
            Party {
                index: old.claimant,
                claimant: &self.claimants[old.claimant],
                kind: old.kind,
            },
            Party {
                index: claimant,
                claimant: &self.claimants[claimant],
                kind,
            },
            merged_usr,
        )
    }

    /// Two members of earlier packages meeting at one location (a directory's contents moved
    /// to a merged-/usr link's target): the later one in plan order decided as if it came over
    /// the earlier. Returns the decision and whether `b` is the later one.
    pub fn between(&self, a: &Holder, b: &Holder) -> (Decision, bool) {
        let b_later = self.claimants[a.claimant].order <= self.claimants[b.claimant].order;
        let (earlier, later) = if b_later { (a, b) } else { (b, a) };
        (
            self.pair(earlier, later.claimant, later.kind, later.merged_usr),
            b_later,
        )
    }

    /// Records `holder` at `location` (after [`Decision::Create`], [`Decision::Replace`] or
    /// [`Decision::TakeDirectory`]).
    pub fn hold(&mut self, location: Vec<u8>, holder: Holder) {
        self.locations.insert(location, holder);
    }

    /// Records a directory member (or a missing parent, `attributes` `None`) of `claimant` at
    /// `location` (after [`Decision::Create`] or [`Decision::Share`]): the first package holds
    /// it, the earliest one that ships it as a member gives its attributes.
    pub fn hold_directory(
        &mut self,
        location: &[u8],
        claimant: usize,
        attributes: Option<Attributes>,
        created: bool,
    ) {
        match self.locations.get_mut(location) {
            Some(Holder {
                directory: Some(directory),
                ..
            }) => {
                directory.created |= created;
                if directory.attributes.is_none() && !directory.applied {
                    directory.attributes = attributes;
                }
            }
            _ => {
                self.locations.insert(
                    location.to_vec(),
                    Holder {
                        claimant,
                        kind: Kind::Dir,
                        merged_usr: false,
                        owner: (0, 0),
                        directory: Some(Directory {
                            attributes,
                            created,
                            applied: !created,
                        }),
                    },
                );
            }
        }
    }

    /// Removes what holds `location`.
    pub fn release(&mut self, location: &[u8]) -> Option<Holder> {
        self.locations.remove(location)
    }

    /// Moves every location strictly below `from` to the same place below `to` (a directory's
    /// contents moved, or found moved): locations free at `to` take the moved holder; where both
    /// hold a directory they merge (the earlier package's attributes win); anything else keeps
    /// what `to` holds and the moved holder is returned, by its new location, for the caller to
    /// decide (before moving, callers resolve such collisions; after the fact, a script made the
    /// tree so).
    pub fn relocate(&mut self, from: &[u8], to: &[u8]) -> Vec<(Vec<u8>, Holder)> {
        let mut prefix = from.to_vec();
        prefix.push(b'/');
        let moved: Vec<Vec<u8>> = self
            .locations
            .range(prefix.clone()..)
            .take_while(|(location, _)| location.starts_with(&prefix))
            .map(|(location, _)| location.clone())
            .collect();
        let mut collisions = Vec::new();
        for old in moved {
            let Some(holder) = self.locations.remove(&old) else {
                continue;
            };
            let mut new = to.to_vec();
            if new.is_empty() {
                new.extend_from_slice(&old[prefix.len()..]);
            } else {
                new.extend_from_slice(&old[from.len()..]);
            }
            match self.locations.get_mut(&new) {
                None => {
                    self.locations.insert(new, holder);
                }
                Some(existing) => match (&mut existing.directory, holder.directory) {
                    (Some(kept), Some(moved)) => {
                        let moved_first = self.claimants[holder.claimant].order
                            < self.claimants[existing.claimant].order;
                        kept.created |= moved.created;
                        if moved.attributes.is_some()
                            && (kept.attributes.is_none() || moved_first)
                            && !kept.applied
                        {
                            kept.attributes = moved.attributes;
                        }
                    }
                    _ => collisions.push((new, holder)),
                },
            }
        }
        collisions
    }

    /// Every location held by a non-directory, with the name of its package.
    pub fn owners_by_location(&self) -> BTreeMap<Vec<u8>, String> {
        self.locations
            .iter()
            .filter(|(_, holder)| holder.kind != Kind::Dir)
            .map(|(location, holder)| {
                (
                    location.clone(),
                    self.claimants[holder.claimant].name.clone(),
                )
            })
            .collect()
    }

    /// The owner (uid, gid) of every location whose owner debroot decides: non-directories, and
    /// directories this build made.
    pub fn owners(&self) -> BTreeMap<Vec<u8>, (u32, u32)> {
        self.locations
            .iter()
            .filter_map(|(location, holder)| match holder.directory {
                None => Some((location.clone(), holder.owner)),
                Some(Directory { created: true, .. }) => {
                    let (_, uid, gid) = directory_attributes(holder);
                    Some((location.clone(), (uid, gid)))
                }
                Some(_) => None,
            })
            .collect()
    }

    /// The directories this build made whose attributes are not on disk yet, with them; marks
    /// them applied.
    pub fn take_unapplied_directories(&mut self) -> Vec<(Vec<u8>, Attributes)> {
        let mut out = Vec::new();
        for (location, holder) in self.locations.iter_mut() {
            let attributes = directory_attributes(holder);
            if let Some(directory) = holder.directory.as_mut()
                && directory.created
                && !directory.applied
            {
                directory.applied = true;
                out.push((location.clone(), attributes));
            }
        }
        out
    }

    /// The locations of the directories this build made, in order.
    pub fn created_directories(&self) -> Vec<Vec<u8>> {
        self.locations
            .iter()
            .filter(|(_, holder)| holder.directory.is_some_and(|d| d.created))
            .map(|(location, _)| location.clone())
            .collect()
    }

    /// Whether `claimant` holds something at or below `location`.
    pub fn holds_at_or_below(&self, location: &[u8], claimant: usize) -> bool {
        self.locations
            .range(location.to_vec()..)
            .take_while(|(l, _)| l.starts_with(location))
            .any(|(l, holder)| {
                (l.len() == location.len() || l.get(location.len()) == Some(&b'/'))
                    && holder.claimant == claimant
            })
    }
}

/// A directory's attributes: those of the earliest package that ships it, else 0755 root.
fn directory_attributes(holder: &Holder) -> Attributes {
    holder
        .directory
        .and_then(|d| d.attributes)
        .unwrap_or((0o755, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimant(order: usize, name: &str, replaces: &str) -> Claimant {
        Claimant {
            order,
            name: name.to_owned(),
            version: Version::parse("1.0").unwrap(),
            replaces: crate::debian::relation::parse(
                crate::debian::relation::FieldKind::Replaces,
                replaces,
            )
            .unwrap()
            .into_iter()
            .flat_map(|r| r.alternatives)
            .collect(),
            multi_arch_same: false,
        }
    }

    fn holder(claimant: usize, kind: Kind) -> Holder {
        Holder {
            claimant,
            kind,
            merged_usr: false,
            owner: (0, 0),
            directory: None,
        }
    }

    /// A ledger of `claimants` where `holds` (location, claimant, kind) are held.
    fn ledger(claimants: &[Claimant], holds: &[(&str, usize, Kind)]) -> Ledger {
        let mut ledger = Ledger::default();
        for c in claimants {
            ledger.register(c.clone());
        }
        for &(location, claimant, kind) in holds {
            if kind == Kind::Dir {
                ledger.hold_directory(location.as_bytes(), claimant, None, true);
            } else {
                ledger.hold(location.as_bytes().to_vec(), holder(claimant, kind));
            }
        }
        ledger
    }

    fn party(index: usize, claimant: &Claimant, kind: Kind) -> Party<'_> {
        Party {
            index,
            claimant,
            kind,
        }
    }

    #[test]
    fn arbitrate_one_file_from_two_packages() {
        let a = claimant(0, "pa", "");
        let b = claimant(1, "pb", "");
        let b_replaces_a = claimant(1, "pb", "pa");
        let b_replaces_old_a = claimant(1, "pb", "pa (<< 1.0)");
        let a_replaces_b = claimant(0, "pa", "pb");
        for kind in [Kind::File, Kind::Hardlink, Kind::Symlink] {
            // No Replaces: a conflict, named later/earlier by plan order.
            assert_eq!(
                arbitrate(party(0, &a, Kind::File), party(1, &b, kind), false),
                Decision::Conflict(Conflict {
                    later: 1,
                    earlier: 0,
                    earlier_kind: Kind::File,
                    later_kind: kind,
                })
            );
            // The new package Replaces the old one: it takes the path over.
            assert_eq!(
                arbitrate(
                    party(0, &a, Kind::File),
                    party(1, &b_replaces_a, kind),
                    false
                ),
                Decision::Replace { previous: 0 }
            );
            // A versioned Replaces that does not admit the old version is no Replaces.
            assert!(matches!(
                arbitrate(
                    party(0, &a, kind),
                    party(1, &b_replaces_old_a, Kind::File),
                    false
                ),
                Decision::Conflict(_)
            ));
            // The old package Replaces the new one: the old member stays.
            assert_eq!(
                arbitrate(
                    party(0, &a_replaces_b, kind),
                    party(1, &b, Kind::File),
                    false
                ),
                Decision::Keep { holder: 0 }
            );
        }
        // Plan order, not argument order, says which is the later one.
        assert_eq!(
            arbitrate(party(1, &b, Kind::File), party(0, &a, Kind::Symlink), false),
            Decision::Conflict(Conflict {
                later: 1,
                earlier: 0,
                earlier_kind: Kind::Symlink,
                later_kind: Kind::File,
            })
        );
    }

    /// Two instances of one Multi-Arch: same package (`libc6:amd64`, `libc6:i386`) share the
    /// files both ship: the later gives way (the extractor then compares the contents). Another
    /// version, or a package that is not Multi-Arch: same, still conflicts.
    #[test]
    fn multi_arch_same_instances_share_files() {
        let same = |order| Claimant {
            multi_arch_same: true,
            ..claimant(order, "libc6", "")
        };
        let (amd64, i386) = (same(0), same(1));
        for kind in [Kind::File, Kind::Hardlink, Kind::Symlink] {
            assert_eq!(
                arbitrate(party(0, &amd64, kind), party(1, &i386, kind), false),
                Decision::Keep { holder: 0 }
            );
        }
        let other_version = Claimant {
            version: Version::parse("2.0").unwrap(),
            ..same(1)
        };
        let not_same = claimant(1, "libc6", "");
        for other in [&other_version, &not_same] {
            assert!(matches!(
                arbitrate(
                    party(0, &amd64, Kind::File),
                    party(1, other, Kind::File),
                    false
                ),
                Decision::Conflict(_)
            ));
        }
        // A directory is still a directory.
        assert!(matches!(
            arbitrate(
                party(0, &amd64, Kind::Dir),
                party(1, &i386, Kind::File),
                false
            ),
            Decision::Conflict(_)
        ));
    }

    #[test]
    fn arbitrate_directories() {
        let a = claimant(0, "pa", "");
        let b = claimant(1, "pb", "pa");
        // A directory is shared, with or without Replaces.
        assert_eq!(
            arbitrate(party(0, &a, Kind::Dir), party(1, &b, Kind::Dir), false),
            Decision::Share
        );
        // A directory never gives way to a file or a symlink, Replaces or not...
        for kind in [Kind::File, Kind::Hardlink, Kind::Symlink] {
            assert!(matches!(
                arbitrate(party(0, &a, Kind::Dir), party(1, &b, kind), false),
                Decision::Conflict(_)
            ));
            assert!(
                matches!(
                    arbitrate(party(0, &a, kind), party(1, &b, Kind::Dir), false),
                    Decision::Conflict(_)
                ) == (kind != Kind::Symlink)
            );
        }
        // ...but for merged /usr's links, which take its place.
        assert_eq!(
            arbitrate(party(0, &a, Kind::Dir), party(1, &b, Kind::Symlink), true),
            Decision::TakeDirectory
        );
        // A directory member where a symlink is follows the link.
        assert_eq!(
            arbitrate(party(0, &a, Kind::Symlink), party(1, &b, Kind::Dir), false),
            Decision::Follow
        );
    }

    #[test]
    fn arbitrate_one_package_twice() {
        let a = claimant(0, "pa", "pa");
        assert_eq!(
            arbitrate(party(0, &a, Kind::Dir), party(0, &a, Kind::Dir), false),
            Decision::Share
        );
        for (old, new) in [
            (Kind::File, Kind::File),
            (Kind::Dir, Kind::File),
            (Kind::Symlink, Kind::Dir),
        ] {
            assert_eq!(
                arbitrate(party(0, &a, old), party(0, &a, new), false),
                Decision::Duplicate
            );
        }
    }

    #[test]
    fn diverted_members_land_under_the_diverted_name() {
        let diversion = (b"/usr/bin/tool.real".to_vec(), "diverter".to_owned());
        let path = &b"usr/bin/tool"[..];
        // Another package's file goes to the diverted name...
        assert_eq!(
            landing_path(path, Some(&diversion), "t-tool", Kind::File),
            b"usr/bin/tool.real"
        );
        assert_eq!(
            landing_path(path, Some(&diversion), "t-tool", Kind::Symlink),
            b"usr/bin/tool.real"
        );
        // ...the diverting package's own stays where it is, and so do directories.
        assert_eq!(
            landing_path(path, Some(&diversion), "diverter", Kind::File),
            path
        );
        assert_eq!(
            landing_path(path, Some(&diversion), "t-tool", Kind::Dir),
            path
        );
        assert_eq!(landing_path(path, None, "t-tool", Kind::File), path);
    }

    #[test]
    fn merged_usr_links_are_the_top_level_ones_to_usr() {
        for (location, target) in [
            ("bin", "usr/bin"),
            ("sbin", "/usr/sbin"),
            ("lib64", "usr/lib64"),
            ("libx32", "usr/libx32"),
        ] {
            assert!(
                is_merged_usr_link(location.as_bytes(), target.as_bytes()),
                "{location} -> {target}"
            );
        }
        for (location, target) in [
            ("bin", "usr/sbin"),
            ("bin", "/etc"),
            ("usr/bin", "usr/bin"),
            ("opt", "usr/opt"),
            ("lib", "usr/lib/"),
            ("lib", "./usr/lib"),
            ("usr/lib/aa", "/etc/ev"),
        ] {
            assert!(
                !is_merged_usr_link(location.as_bytes(), target.as_bytes()),
                "{location} -> {target}"
            );
        }
    }

    #[test]
    fn replaces_decides_either_way_round() {
        let claimants = [
            claimant(0, "old", ""),
            claimant(1, "new", "old"),
            claimant(2, "other", ""),
        ];
        let held = ledger(&claimants, &[("usr/bin/tool", 0, Kind::File)]);
        assert_eq!(
            held.decide(b"usr/bin/tool", 1, Kind::File, false),
            Decision::Replace { previous: 0 }
        );
        assert_eq!(
            held.decide(b"usr/bin/tool", 2, Kind::Symlink, false),
            Decision::Conflict(Conflict {
                later: 2,
                earlier: 0,
                earlier_kind: Kind::File,
                later_kind: Kind::Symlink,
            })
        );
        // The replacing package first in the plan: its file stays.
        let claimants = [claimant(0, "new", "old (<< 2)"), claimant(1, "old", "")];
        let held = ledger(&claimants, &[("f", 0, Kind::File)]);
        assert_eq!(
            held.decide(b"f", 1, Kind::Hardlink, false),
            Decision::Keep { holder: 0 }
        );
        // A version outside the range replaces nothing.
        let mut claimants = [claimant(0, "new", "old (<< 1)"), claimant(1, "old", "")];
        claimants[1].version = Version::parse("1.0").unwrap();
        let held = ledger(&claimants, &[("f", 0, Kind::File)]);
        assert!(matches!(
            held.decide(b"f", 1, Kind::File, false),
            Decision::Conflict(_)
        ));
    }

    #[test]
    fn directories_stay_directories_but_for_merged_usr() {
        let claimants = [claimant(0, "aa", ""), claimant(1, "ev", "aa")];
        let held = ledger(&claimants, &[("usr/lib/aa", 0, Kind::Dir)]);
        // Even with `Replaces`: a directory never becomes a symlink or a file.
        for kind in [Kind::Symlink, Kind::File, Kind::Hardlink] {
            assert_eq!(
                held.decide(b"usr/lib/aa", 1, kind, false),
                Decision::Conflict(Conflict {
                    later: 1,
                    earlier: 0,
                    earlier_kind: Kind::Dir,
                    later_kind: kind,
                })
            );
        }
        assert_eq!(
            held.decide(b"usr/lib/aa", 1, Kind::Dir, false),
            Decision::Share
        );
        let held = ledger(&claimants, &[("bin", 0, Kind::Dir)]);
        assert_eq!(
            held.decide(b"bin", 1, Kind::Symlink, true),
            Decision::TakeDirectory
        );
        // A directory where an earlier package's symlink is follows it; a directory where an
        // earlier file is conflicts.
        let held = ledger(
            &claimants,
            &[("var/run", 0, Kind::Symlink), ("f", 0, Kind::File)],
        );
        assert_eq!(
            held.decide(b"var/run", 1, Kind::Dir, false),
            Decision::Follow
        );
        assert_eq!(
            held.decide(b"f", 1, Kind::Dir, false),
            Decision::Conflict(Conflict {
                later: 1,
                earlier: 0,
                earlier_kind: Kind::File,
                later_kind: Kind::Dir,
            })
        );
    }

    #[test]
    fn one_package_twice_at_one_location_is_a_duplicate() {
        let claimants = [claimant(0, "p", "")];
        let held = ledger(
            &claimants,
            &[("usr/bin/x", 0, Kind::File), ("usr/bin", 0, Kind::Dir)],
        );
        assert_eq!(
            held.decide(b"usr/bin/x", 0, Kind::File, false),
            Decision::Duplicate
        );
        assert_eq!(
            held.decide(b"usr/bin/x", 0, Kind::Dir, false),
            Decision::Duplicate
        );
        assert_eq!(
            held.decide(b"usr/bin", 0, Kind::Dir, false),
            Decision::Share
        );
        assert_eq!(
            held.decide(b"usr/sbin", 0, Kind::Dir, false),
            Decision::Create
        );
    }

    #[test]
    fn the_earliest_member_gives_a_directory_its_attributes() {
        let claimants = [claimant(0, "a", ""), claimant(1, "b", "")];
        let mut held = ledger(&claimants, &[]);
        // A missing parent first (no attributes), then two members.
        held.hold_directory(b"d", 0, None, true);
        held.hold_directory(b"d", 1, Some((0o750, 1, 2)), false);
        held.hold_directory(b"d", 0, Some((0o700, 3, 4)), false);
        assert_eq!(
            held.take_unapplied_directories(),
            vec![(b"d".to_vec(), (0o750, 1, 2))]
        );
        assert_eq!(held.take_unapplied_directories(), vec![]);
        // A directory that existed before the build is left as it is.
        held.hold_directory(b"e", 0, Some((0o700, 0, 0)), false);
        assert_eq!(held.take_unapplied_directories(), vec![]);
        assert_eq!(held.owners().get(&b"d"[..]), Some(&(1, 2)));
        assert_eq!(held.owners().get(&b"e"[..]), None);
    }

    #[test]
    fn relocating_merges_directories_and_returns_collisions() {
        let claimants = [claimant(0, "base", ""), claimant(1, "later", "")];
        let mut held = ledger(
            &claimants,
            &[
                ("bin", 1, Kind::Dir),
                ("bin/sub", 1, Kind::Dir),
                ("bin/sub/foo", 1, Kind::File),
                ("bin/tool", 1, Kind::File),
                ("bin-other", 1, Kind::File),
                ("usr/bin", 0, Kind::Dir),
                ("usr/bin/tool", 0, Kind::File),
            ],
        );
        let collisions = held.relocate(b"bin", b"usr/bin");
        assert_eq!(
            collisions,
            vec![(b"usr/bin/tool".to_vec(), holder(1, Kind::File))]
        );
        assert_eq!(held.get(b"usr/bin/sub/foo"), Some(&holder(1, Kind::File)));
        assert!(held.get(b"usr/bin/sub").is_some());
        assert!(held.get(b"bin/sub/foo").is_none());
        // Only what is below `bin/`: `bin` itself and `bin-other` stay.
        assert!(held.get(b"bin").is_some() && held.get(b"bin-other").is_some());
        assert_eq!(held.get(b"usr/bin/tool").map(|h| h.claimant), Some(0));
        assert_eq!(
            held.owners_by_location().get(&b"usr/bin/sub/foo"[..]),
            Some(&"later".to_owned())
        );
        assert!(held.holds_at_or_below(b"usr/bin", 1));
        assert!(!held.holds_at_or_below(b"usr/bi", 1));
    }
}
