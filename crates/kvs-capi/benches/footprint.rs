//! Footprint and start-up of the C API (docs/BENCHMARKS.md, issue 14):
//!
//! - the size of the stripped shared library, and which crates make it up;
//! - the resident memory of the seed example's C master (tests/c/seed_master.c, linked
//!   against the release static library) while connected and idle;
//! - the time from the C master's process start to CONNECTED against the local service with
//!   an existing channel, against a floor measured in the same run: our Rust client doing
//!   the same in-process (a fresh HTTPS client, then start → CONNECTED).
//!
//! `cargo bench -p kvs-capi --bench footprint --profile capi [-- ROUNDS]` (the `capi` profile
//! is how the library ships; without it the figures are those of a plain release build).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Service, compile_with, scratch, start_master, stop_master};
use kvs_client::{Master, SignalingClient};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The stripped size of `lib`, in bytes.
fn stripped_size(lib: &std::path::Path, dir: &std::path::Path) -> u64 {
    let copy = dir.join("stripped.so");
    std::fs::copy(lib, &copy).unwrap();
    let ok = Command::new("strip")
        .arg("--strip-all")
        .arg(&copy)
        .status()
        .unwrap();
    assert!(ok.success(), "strip failed");
    std::fs::metadata(&copy).unwrap().len()
}

/// Code and data by crate, from the symbol sizes of the unstripped library.
fn composition(lib: &std::path::Path) -> Vec<(String, u64)> {
    let out = Command::new("nm")
        .args(["-S", "--size-sort", "-C"])
        .arg(lib)
        .output()
        .unwrap();
    let mut by_crate: BTreeMap<String, u64> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut parts = line.splitn(4, ' ');
        let (Some(_), Some(size), Some(_), Some(name)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let size = u64::from_str_radix(size, 16).unwrap_or(0);
        let name = name.trim_start_matches('<').trim_start_matches("impl ");
        let krate = name.split("::").next().unwrap_or(name);
        let krate = if krate.starts_with("ring_core_") || krate.starts_with("GFp") {
            "ring (C/asm)"
        } else if krate.contains(' ') || krate.is_empty() {
            "(other)"
        } else {
            krate
        };
        *by_crate.entry(krate.to_owned()).or_default() += size;
    }
    let mut v: Vec<_> = by_crate.into_iter().collect();
    v.sort_by_key(|(_, s)| std::cmp::Reverse(*s));
    v
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(15);
    let dir = scratch("bench");
    let deps = common::static_library().parent().unwrap().to_owned();
    let shared = deps.join("libkvs_signaling_c.so");
    let size = stripped_size(&shared, &dir);
    println!(
        "stripped shared library: {:.2} MB ({size} bytes)",
        size as f64 / 1e6
    );
    let parts = composition(&shared);
    let total: u64 = parts.iter().map(|(_, s)| s).sum();
    println!(
        "by crate (symbol sizes, {:.2} MB in all):",
        total as f64 / 1e6
    );
    for (name, s) in parts.iter().take(14) {
        println!(
            "  {name:<24} {:>8.1} KB  {:>4.1} %",
            *s as f64 / 1e3,
            *s as f64 * 100.0 / total as f64
        );
    }

    let svc = Service::start(&dir, true);
    // Linked as an application ships: optimised, unused sections dropped, stripped.
    let master = compile_with("seed_master", &dir, &["-O2", "-Wl,--gc-sections", "-s"]);
    println!(
        "C master executable (static library linked in, stripped): {:.2} MB",
        std::fs::metadata(&master).unwrap().len() as f64 / 1e6
    );
    let channel = "bench-capi";
    let run_master = || {
        let started = Instant::now();
        let (child, out) = start_master(&master, &svc, channel);
        let connected = started.elapsed();
        std::thread::sleep(Duration::from_millis(1500));
        let rss = rss_kib(child.id(), "VmRSS:");
        let hwm = rss_kib(child.id(), "VmHWM:");
        let anon = rss_kib(child.id(), "RssAnon:");
        stop_master(child, out);
        (connected, rss, hwm, anon)
    };
    let floor = || {
        svc.runtime.block_on(async {
            let started = Instant::now();
            let options = svc.options(channel, kvs_client::ChannelRole::Master, "");
            let (client, _events) = SignalingClient::<Master>::start(options).unwrap();
            client.connected().await.unwrap();
            let took = started.elapsed();
            client.close().await;
            took
        })
    };
    // The channel exists before the first measured run, as in the set-up.
    run_master();
    let (mut c_ms, mut floor_ms, mut rss, mut hwm, mut anon) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (t, r, h, a) = run_master();
        anon.push(a as f64);
        c_ms.push(t.as_secs_f64() * 1e3);
        rss.push(r as f64);
        hwm.push(h as f64);
        floor_ms.push(floor().as_secs_f64() * 1e3);
    }
    let (c, f) = (median(&mut c_ms), median(&mut floor_ms));
    println!("C master, process start → CONNECTED: median {c:.1} ms over {rounds} runs");
    println!("floor, Rust client in-process (new HTTPS client) → CONNECTED: median {f:.1} ms");
    println!("ratio C master / floor: {:.2}", c / f);
    println!(
        "C master resident while connected and idle: median {:.2} MB (peak {:.2} MB), of which {:.2} MB heap and stacks, the rest mapped code and data",
        median(&mut rss) / 1024.0,
        median(&mut hwm) / 1024.0,
        median(&mut anon) / 1024.0
    );
}
