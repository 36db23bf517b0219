//! The benchmark's table: each Lares path beside its ceiling, as Markdown and JSON.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use super::Run;
use super::drive::Measured;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub path: String,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failed: u64,
    pub ceiling: String,
    pub ceiling_rate: f64,
    pub ceiling_p50_ms: f64,
    pub ceiling_p99_ms: f64,
    pub ratio: f64,
    pub target: f64,
}

impl Row {
    pub fn new(path: &str, m: &Measured, ceiling: &str, c: &Measured, target: f64) -> Row {
        let ratio = if c.rate() > 0.0 {
            m.rate() / c.rate()
        } else {
            0.0
        };
        Row {
            path: path.into(),
            rate: m.rate(),
            p50_ms: m.p50_ms,
            p99_ms: m.p99_ms,
            failed: m.failed,
            ceiling: ceiling.into(),
            ceiling_rate: c.rate(),
            ceiling_p50_ms: c.p50_ms,
            ceiling_p99_ms: c.p99_ms,
            ratio,
            target,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Bulkhead {
    pub validate_p50_ms: f64,
    pub validate_p99_ms: f64,
    pub validate_rate: f64,
    pub password_logins_ok: u64,
    pub password_logins_refused: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    pub actors: f64,
    pub rss_growth_bytes: f64,
    pub bytes_per_actor: f64,
    pub accounts_created: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cores: usize,
    pub concurrency: usize,
    pub seconds: u64,
    pub rows: Vec<Row>,
    pub bulkhead: Option<Bulkhead>,
    pub memory: Option<Memory>,
}

impl Report {
    pub fn new(run: &Run, cores: usize) -> Report {
        Report {
            cores,
            concurrency: run.concurrency,
            seconds: run.seconds,
            rows: Vec::new(),
            bulkhead: None,
            memory: None,
        }
    }

    pub fn push(&mut self, row: Row) {
        eprintln!(
            "   {:<34} {:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {:.2}x {}",
            row.path, row.rate, row.p50_ms, row.p99_ms, row.ratio, row.ceiling
        );
        self.rows.push(row);
    }

    pub fn bulkhead(&mut self, validate: &Measured, logins: &Measured) {
        self.bulkhead = Some(Bulkhead {
            validate_p50_ms: validate.p50_ms,
            validate_p99_ms: validate.p99_ms,
            validate_rate: validate.rate(),
            password_logins_ok: logins.ok,
            password_logins_refused: logins.failed,
        });
    }

    pub fn memory(
        &mut self,
        rss0: Option<u64>,
        rss1: Option<u64>,
        a0: Option<f64>,
        a1: Option<f64>,
        made: usize,
    ) {
        let grown = rss1
            .zip(rss0)
            .map(|(a, b)| a as f64 - b as f64)
            .unwrap_or(f64::NAN);
        let actors = a1.zip(a0).map(|(a, b)| a - b).unwrap_or(f64::NAN);
        let per = if actors > 0.0 {
            grown / actors
        } else {
            f64::NAN
        };
        self.memory = Some(Memory {
            actors,
            rss_growth_bytes: grown,
            bytes_per_actor: per,
            accounts_created: made,
        });
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| Lares path | rate /s | p50 ms | p99 ms | ceiling | ceiling /s | ceiling p50 ms | ceiling p99 ms | ratio | target |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.2} | {:.2} | {:.2} | ≥ {:.2} |",
                r.path,
                r.rate,
                r.p50_ms,
                r.p99_ms,
                r.ceiling,
                r.ceiling_rate,
                r.ceiling_p50_ms,
                r.ceiling_p99_ms,
                r.ratio,
                r.target
            );
        }
        if let Some(b) = &self.bulkhead {
            let _ = writeln!(
                out,
                "\nBulkhead: `Validate` while `UsernameLogin` saturates the hash pool: p50 {:.2} ms, p99 {:.2} ms ({:.0}/s); password logins meanwhile: {} answered, {} refused with 503 (target: p99 < 10 ms).",
                b.validate_p50_ms,
                b.validate_p99_ms,
                b.validate_rate,
                b.password_logins_ok,
                b.password_logins_refused
            );
        }
        if let Some(m) = &self.memory {
            let _ = writeln!(
                out,
                "\nMemory: {:.0} live session actors added {:.1} MiB of resident memory: {:.0} bytes per actor (target: at most 2048).",
                m.actors,
                m.rss_growth_bytes / 1_048_576.0,
                m.bytes_per_actor
            );
        }
        let _ = writeln!(
            out,
            "\n{} cores; {} requests in flight; {} s per timed measurement.",
            self.cores, self.concurrency, self.seconds
        );
        out
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("bench.md"), self.markdown())?;
        std::fs::write(dir.join("bench.json"), serde_json::to_string_pretty(self)?)?;
        Ok(())
    }
}
