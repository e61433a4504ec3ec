//! `debroot index`: fetch and verify a profile's suites and summarize them, the diagnostic that
//! `apt-get update` is for apt users.

use std::time::Instant;

use serde_json::json;

use super::{Outcome, repo_options};
use crate::cli::{Format, IndexArgs};
use crate::error::{Failure, local};
use crate::pipeline::Env;
use crate::pipeline::locking::{self, ReadSuite};
use crate::redact::redact;

pub fn run(env: &Env<'_>, args: &IndexArgs) -> Result<Outcome, Failure> {
    let profile = super::load_profile(env, &args.profile)?;
    let repo = locking::open_repo(env, &profile, &repo_options(&args.repo))?;
    let started = Instant::now();
    let loaded = locking::read_indexes(env, &profile, &repo)?;
    let text = match args.format {
        Format::Text => render_text(&loaded),
        Format::Json => render_json(&loaded, started.elapsed().as_secs_f64()),
    };
    env.printer.data(&text).map_err(local("write to stdout"))?;
    env.printer.status(
        "Verified",
        &format!(
            "{} suites in {:.2}s",
            loaded.len(),
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(Outcome::Success)
}

fn render_text(suites: &[ReadSuite]) -> String {
    let mut out = String::new();
    for read in suites {
        let suite = &read.suite;
        out.push_str(&format!("{}\n", suite.request.suite));
        if let Some(repository) = &read.repository {
            out.push_str(&format!("  repository  {repository}\n"));
        }
        if read.priority != crate::resolve::universe::DEFAULT_PRIORITY {
            out.push_str(&format!("  priority    {}\n", read.priority));
        }
        out.push_str(&format!("  source      {}\n", redact(&suite.inrelease_url)));
        out.push_str(&format!(
            "  date        {}\n",
            suite.release.date.release_form()
        ));
        if let Some(valid_until) = suite.release.valid_until {
            out.push_str(&format!("  valid until {}\n", valid_until.release_form()));
        }
        out.push_str(&format!(
            "  InRelease   sha256:{}\n",
            suite.inrelease_sha256
        ));
        for signature in &suite.signatures {
            out.push_str(&format!(
                "  signed by   {} (key {}) at {}\n",
                signature.primary, signature.key, signature.created
            ));
        }
        for index in &suite.indexes {
            out.push_str(&format!(
                "  {:<11} {} packages ({}, {} bytes, {})\n",
                format!("{}/{}", index.component, index.architecture),
                index.packages.packages.len(),
                index.path,
                index.compressed.size,
                if index.cached { "cached" } else { "fetched" }
            ));
            if !index.packages.rejected.is_empty() {
                out.push_str(&format!(
                    "  {:<11} {} stanzas rejected\n",
                    "",
                    index.packages.rejected.len()
                ));
            }
        }
        out.push_str(&format!(
            "  time        {:.3}s\n",
            suite.elapsed.as_secs_f64()
        ));
    }
    out
}

fn render_json(suites: &[ReadSuite], elapsed: f64) -> String {
    let suites: Vec<_> = suites
        .iter()
        .map(|read| {
            let suite = &read.suite;
            json!({
                "suite": suite.request.suite,
                "archive": read.archive_name(),
                "priority": read.priority,
                "source": redact(&suite.inrelease_url),
                "date": suite.release.date.rfc3339(),
                "valid_until": suite.release.valid_until.map(|t| t.rfc3339()),
                "inrelease_sha256": suite.inrelease_sha256.hex(),
                "signatures": suite.signatures.iter().map(|s| json!({
                    "key": s.key,
                    "primary": s.primary,
                    "created": s.created.rfc3339(),
                })).collect::<Vec<_>>(),
                "indexes": suite.indexes.iter().map(|index| json!({
                    "component": index.component,
                    "architecture": index.architecture.as_str(),
                    "path": index.path,
                    "size": index.compressed.size,
                    "sha256": index.compressed.sha256.hex(),
                    "cached": index.cached,
                    "packages": index.packages.packages.len(),
                    "rejected": index.packages.rejected.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "seconds": suite.elapsed.as_secs_f64(),
            })
        })
        .collect();
    let document = json!({ "suites": suites, "seconds": elapsed });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
