//! What a job's result looks like on GitHub: the commit status (state and a
//! description within GitHub's 140 characters) and the pull request's one coverage
//! comment, found again by its hidden marker.

use super::github::Status;
use super::runner::{short, Job, Outcome};

/// The hidden first line of the coverage comment; the comment holding it is edited in
/// place on every push.
pub fn marker(job: &Job) -> String {
    format!("<!-- livecov:coverage-comment {} -->", job.repo.context)
}

/// The pending status posted when a job is accepted, before it starts.
pub fn pending(job: &Job, what: &str) -> Status {
    Status {
        state: "pending".into(),
        description: format!("livecov: {what}"),
        target_url: job.link(),
        context: job.repo.context.clone(),
    }
}

/// The informational status of a job without a result after the deadline. It does not
/// block a merge; the real result replaces it when the job ends.
pub fn late(job: &Job) -> Status {
    Status {
        state: "success".into(),
        description: format!(
            "informational: no coverage result after {}; it will replace this when the \
             job ends",
            after(job.repo.late_after)
        ),
        target_url: job.link(),
        context: job.repo.context.clone(),
    }
}

/// The final status of a finished job.
pub fn final_status(job: &Job, o: &Outcome) -> Status {
    let (state, description) = verdict(job, o);
    Status {
        state: state.into(),
        description,
        target_url: job.link(),
        context: job.repo.context.clone(),
    }
}

fn verdict(job: &Job, o: &Outcome) -> (&'static str, String) {
    if let Some(e) = &o.error {
        let first = e.lines().next().unwrap_or_default();
        return ("error", format!("livecov: the job failed: {first}"));
    }
    let figures = figures(o);
    let total_t = job.repo.coverage_threshold;
    let patch_t = job.repo.settings.patch_threshold;
    if !o.tests_passed {
        return ("failure", format!("{figures} -- tests failed"));
    }
    if let (Some(p), Some(t)) = (o.patch, patch_t) {
        if p.lines > 0 && p.percent < t {
            return ("failure", format!("{figures} -- patch below {t}%"));
        }
    }
    if o.total.is_some_and(|t| t < total_t) {
        return (
            "failure",
            format!("{figures} -- total below threshold {total_t}%"),
        );
    }
    ("success", format!("{figures} | threshold: {total_t}%"))
}

fn figures(o: &Outcome) -> String {
    let patch = match o.patch {
        Some(p) if p.lines == 0 => "patch: no executable lines changed".to_owned(),
        Some(p) => format!("patch {:.1}% ({}/{})", p.percent, p.covered, p.lines),
        None => "patch n/a".to_owned(),
    };
    let total = o
        .total
        .map_or("total n/a".to_owned(), |t| format!("total {t:.1}%"));
    format!("{patch}, {total}")
}

/// The coverage comment.
pub fn comment(job: &Job, o: &Outcome) -> String {
    let (state, description) = verdict(job, o);
    let mut s = marker(job);
    s.push('\n');
    let icon = match state {
        "success" => "✅",
        "failure" => "❌",
        _ => "⚠️",
    };
    s.push_str(&format!(
        "### {icon} Coverage of {} at {}\n\n{description}\n\n",
        job.repo.context,
        short(&job.pr.head_sha)
    ));
    if let Some(base) = &o.base {
        s.push_str(&format!("Compared with base `{}`", short(base)));
        if let Some(r) = &o.base_reason {
            s.push_str(&format!(" ({r})"));
        }
        s.push_str(".\n\n");
    }
    if !o.files.is_empty() {
        s.push_str("| file | changed lines | covered | uncovered lines |\n|---|---:|---:|---|\n");
        for f in &o.files {
            let lines: Vec<String> = f.uncovered_lines.iter().map(u64::to_string).collect();
            s.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                f.path.replace('|', "\\|"),
                f.lines,
                f.covered,
                lines.join(", ")
            ));
        }
        s.push('\n');
    }
    if let Some(link) = job.link() {
        s.push_str(&format!("[Full report]({link})\n\n"));
    }
    s.push_str(&format!(
        "<sub>Updated in place on every push ({}). Comment `/coverage` to run it again.</sub>\n",
        job.trigger
    ));
    s
}

/// `30 min`, `90 s`: a deadline for a status line.
pub fn after(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 60.0 && (secs % 60.0).abs() < 0.5 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{secs:.0} s")
    }
}
