//! `debroot index`: fetch and verify a profile's suites and summarize them, the diagnostic that
//! `apt-get update` is for apt users.

use std::time::Instant;

use serde_json::json;

use super::{Outcome, repo_options};
use crate::cli::{Format, IndexArgs};
use crate::error::{Failure, local};
use crate::pipeline::{Env, locking};
use crate::redact::redact;
use crate::repo::indexes::{self, Request, Suite};

pub fn run(env: &Env<'_>, args: &IndexArgs) -> Result<Outcome, Failure> {
    let profile = super::load_profile(env, &args.profile)?;
    let repo = locking::open_repo(env, &profile, &repo_options(&args.repo))?;
    let suites = indexes::suites_of(&profile.source);
    env.printer.status(
        "Reading",
        &format!(
            "{} suites from {} ({})",
            suites.len(),
            redact(&repo.sources.main),
            repo.sources.origin
        ),
    );
    let started = Instant::now();
    let request = Request {
        sources: &repo.sources,
        keyring: &repo.keyring,
        suites: &suites,
        architectures: &profile.source.architectures,
        components: &profile.source.components,
        time: repo.time,
    };
    let loaded =
        locking::runtime()?.block_on(indexes::load(&repo.fetcher, &repo.cache, &request))?;
    locking::report_skipped(env, &suites, &loaded);
    for suite in &loaded {
        for index in &suite.indexes {
            for rejected in &index.packages.rejected {
                env.printer.warn(&format!(
                    "`{}` of `{}`: rejected stanza at {rejected}",
                    index.path, suite.request.suite
                ));
            }
        }
    }
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

fn render_text(suites: &[Suite]) -> String {
    let mut out = String::new();
    for suite in suites {
        out.push_str(&format!("{}\n", suite.request.suite));
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

fn render_json(suites: &[Suite], elapsed: f64) -> String {
    let suites: Vec<_> = suites
        .iter()
        .map(|suite| {
            json!({
                "suite": suite.request.suite,
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
