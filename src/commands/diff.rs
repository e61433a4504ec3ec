//! `debroot diff A B`: reads both sides (`output::read`, in parallel), compares them
//! (`diff`, pure), reads the bytes of the files whose content differs, and writes the records.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;

use super::Outcome;
use super::error::CommandError;
use crate::cli::{DiffArgs, Format};
use crate::diff::{self, Described, Record, render};
use crate::error::{Failure, local};
use crate::output::read::{self, DataPaths, ReadError, Source};
use crate::pipeline::Env;

/// Rounds of sample reading: the first chunk, then the chunk where two large files first differ.
const SAMPLE_ROUNDS: usize = 2;

/// Runs `f` on both operands at once (one thread each; the machine has two cores).
fn both<T: Send>(
    a: &Source,
    b: &Source,
    f: impl Fn(&Source) -> Result<T, ReadError> + Sync,
) -> Result<(T, T), Failure> {
    let (x, y) = std::thread::scope(|scope| {
        let other = scope.spawn(|| f(b));
        (f(a), other.join())
    });
    let y = y.map_err(|_| CommandError::ReaderPanicked)?;
    Ok((x?, y?))
}

pub fn run(env: &Env<'_>, args: &DiffArgs) -> Result<Outcome, Failure> {
    let started = std::time::Instant::now();
    // Images are mounted read-only until the comparison is done.
    let base = env.context.temp_dir();
    let (a, _mounted_a) = read::mount(Source::open(&args.a)?, &base)?;
    let (b, _mounted_b) = read::mount(Source::open(&args.b)?, &base)?;
    let ((mut side_a, links_a), (mut side_b, links_b)) = both(&a, &b, read::read_side_with_links)?;
    // A directory output has no `/dev` nodes; a tarball or an image has the static ones.
    if let (diff::Side::Tree(x), diff::Side::Tree(y)) = (&mut side_a, &mut side_b) {
        let statics = static_dev();
        match (&a, &b) {
            (Source::Directory(_), Source::Tarball { .. } | Source::Image { .. }) => {
                diff::without_static_dev(y, x, &statics)
            }
            (Source::Tarball { .. } | Source::Image { .. }, Source::Directory(_)) => {
                diff::without_static_dev(x, y, &statics)
            }
            _ => {}
        }
    }
    let mut records = diff::compare(&side_a, &side_b);
    let options = diff::Options {
        context: args.context,
        max_lines: args.max_lines,
    };
    describe_contents(&a, &b, (&links_a, &links_b), &mut records, &options)?;
    let operands = render::Operands {
        a: args.a.as_os_str().as_bytes().to_vec(),
        b: args.b.as_os_str().as_bytes().to_vec(),
        a_kind: a.kind(),
        b_kind: b.kind(),
    };
    let text = match args.format {
        Format::Text => render::text(&records, &operands, env.printer.stdout_color()),
        Format::Json => render::json_lines(&records, &operands),
    };
    env.printer
        .data(&text)
        .map_err(local("write the comparison to stdout"))?;
    env.printer.detail(&format!(
        "compared in {:.2}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(if records.is_empty() {
        Outcome::Success
    } else {
        Outcome::Differs
    })
}

/// The static `/dev` every tarball and image holds ([`crate::output::static_dev`]), as the
/// comparison's paths and kinds.
fn static_dev() -> Vec<(Vec<u8>, diff::Kind)> {
    use crate::output::NodeKind;
    crate::output::static_dev(0)
        .into_iter()
        .filter_map(|node| {
            let kind = match node.kind {
                NodeKind::Dir => diff::Kind::Dir,
                NodeKind::Symlink { target } => diff::Kind::Symlink { target },
                NodeKind::CharDevice { major, minor } => diff::Kind::CharDevice { major, minor },
                NodeKind::BlockDevice { major, minor } => diff::Kind::BlockDevice { major, minor },
                _ => return None,
            };
            Some((node.path, kind))
        })
        .collect()
}

/// Fills in the content records: reads the differing files' samples and describes them.
fn describe_contents(
    a: &Source,
    b: &Source,
    links: (&DataPaths, &DataPaths),
    records: &mut [Record],
    options: &diff::Options,
) -> Result<(), Failure> {
    let sizes: BTreeMap<Vec<u8>, (u64, u64)> = records
        .iter()
        .filter_map(|record| match record {
            Record::Content {
                path,
                a_size,
                b_size,
                ..
            } => Some((path.clone(), (*a_size, *b_size))),
            _ => None,
        })
        .collect();
    let mut wanted = diff::wanted_samples(records);
    for _ in 0..SAMPLE_ROUNDS {
        if wanted.is_empty() {
            break;
        }
        let (samples_a, samples_b) = both(a, b, |source| {
            let links = if std::ptr::eq(source, a) {
                links.0
            } else {
                links.1
            };
            read::read_samples(source, links, &wanted)
        })?;
        let mut next = BTreeMap::new();
        for path in wanted.keys() {
            let (Some(x), Some(y), Some(size)) =
                (samples_a.get(path), samples_b.get(path), sizes.get(path))
            else {
                continue;
            };
            match diff::describe_content(path, *size, x, y, options) {
                Described::Done(detail) => diff::set_detail(records, path, detail),
                Described::NeedChunk(chunk) => {
                    next.insert(path.clone(), chunk);
                }
            }
        }
        wanted = next;
    }
    Ok(())
}
