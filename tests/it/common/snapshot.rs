//! Snapshots of what the CLI prints: exit code, stdout and stderr in one text, with what
//! changes from run to run (temporary paths, the loopback port, digests, times, durations)
//! replaced by placeholders. See CONTRIBUTING.md "Snapshots" for writing and reviewing them.

use std::path::Path;
use std::process::Output;

/// The exit code, stdout and stderr of a run, as one text to snapshot.
pub fn render(output: &Output) -> String {
    let code = match output.status.code() {
        Some(code) => code.to_string(),
        None => format!("signal ({:?})", output.status),
    };
    format!(
        "exit: {code}\n----- stdout -----\n{}----- stderr -----\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// insta settings whose filters replace `dirs` (each a temporary folder of the test, most
/// specific first) with `[DIRn]` and everything else that changes from run to run with a
/// placeholder naming what it was.
pub fn settings(dirs: &[&Path]) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(true);
    settings.set_omit_expression(true);
    for (index, dir) in dirs.iter().enumerate() {
        let name = format!("[DIR{index}]");
        // The path as given and as the kernel resolves it (e.g. `/tmp` through a symlink).
        let mut paths = vec![dir.to_path_buf()];
        if let Ok(canonical) = dir.canonicalize()
            && canonical != *dir
        {
            paths.push(canonical);
        }
        for path in paths {
            settings.add_filter(&regex_escape(&path.display().to_string()), name.clone());
        }
    }
    for (pattern, replacement) in FILTERS {
        settings.add_filter(pattern, *replacement);
    }
    settings
}

/// What changes from run to run, after the test's own folders: the order matters (a digest
/// inside a path is replaced before the path's other parts are looked at).
const FILTERS: &[(&str, &str)] = &[
    // The loopback server's port.
    (r"(https?)://127\.0\.0\.1:\d+", "$1://[LOOPBACK]"),
    // Temporary folders the test did not make (debroot's own, tempfile's).
    (r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]"),
    // SHA256 digests, in hex, and their shorter forms.
    (r"\b[0-9a-f]{64}\b", "[SHA256]"),
    // Times: RFC 3339 and the Release file's RFC 2822 form.
    (
        r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2}| UTC)?",
        "[TIME]",
    ),
    (
        r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} (UTC|GMT|[+-]\d{4})",
        "[TIME]",
    ),
    // Durations as debroot prints them: `1.2 s`, `350 ms`, `12s`, `2m 3s`.
    (r"\b\d+(\.\d+)? ?(ms|µs|us|ns|s|min)\b", "[DURATION]"),
    // Durations in JSON reports (`index`, `verify`): `"seconds": 0.075419057`.
    (
        r#"("seconds": ?)\d+(\.\d+)?([eE][-+]?\d+)?"#,
        "$1[DURATION]",
    ),
    // Byte rates of a progress line: `1.2 MiB/s`, `350 B/s`.
    (r"\b\d+(\.\d+)? ?[KMGT]?i?B/s\b", "[RATE]"),
    // The process id in the name of a work directory (`workdir::create`): `.NAME.debroot-PID-N`.
    (r"\.debroot-\d+-(\d+)\b", ".debroot-[PID]-$1"),
];

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Snapshots a run's exit code, stdout and stderr as `tests/it/snapshots/it__MODULE__NAME.snap`,
/// with the filters of [`settings`] for the test's folders `dirs`:
/// `assert_cli!("name", &output, &[fixture.path()])`. A macro, so that insta names the
/// snapshot after the calling module and keeps it beside it.
#[macro_export]
macro_rules! assert_cli {
    ($name:expr, $output:expr, $dirs:expr $(,)?) => {{
        let name = String::from($name);
        let text = $crate::common::snapshot::render($output);
        $crate::common::snapshot::settings($dirs).bind(|| {
            insta::assert_snapshot!(name.as_str(), text);
        });
    }};
}
