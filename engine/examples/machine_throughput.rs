//! How fast the state machine alone applies a commuter morning (no store, no threads):
//! `cargo run --release -p kanjo-engine --example machine_throughput -- [scale]`.

use std::sync::Arc;
use std::time::Instant;

use kanjo_engine::machine::{Machine, MachineConfig, Prepared};
use kanjo_engine::pipeline::{BATCH_EVENTS_MAX, load_programme};
use kanjo_engine::riders::check_rider_value;
use kanjo_engine::workload::{Commuter, CommuterConfig, Timetable};

fn main() -> anyhow::Result<()> {
    let scale: u32 = std::env::args()
        .nth(1)
        .map_or(Ok(10), |text| text.parse())?;
    let programme_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/muroran/programme.toml");
    let (programme, assets) = load_programme(&programme_path)?;
    let mut machine = Machine::new(Arc::clone(&programme), assets, MachineConfig::default())?;
    let timetable = Arc::new(Timetable::load(
        &kanjo_engine::workload::timetable::muroran_feed_dir(),
        "weekday",
    )?);
    let commuter = Commuter::new(CommuterConfig::new(1, scale), timetable);
    let mut clock_ns = 10;
    machine.begin_batch(clock_ns);
    for record in commuter.riders() {
        let record = check_rider_value(&serde_json::to_value(record)?)
            .map_err(|(_, message)| anyhow::anyhow!(message))?
            .record;
        machine.upsert_rider(record).map_err(anyhow::Error::msg)?;
    }
    let started = Instant::now();
    let prepared: Vec<Prepared> = commuter.events().map(Prepared::new).collect();
    let prepare_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut accepted = 0usize;
    for batch in prepared.chunks(BATCH_EVENTS_MAX) {
        clock_ns += 1;
        machine.begin_batch(clock_ns);
        for item in batch {
            accepted += usize::from(machine.apply(item).is_accepted());
        }
        machine.expire_taps();
    }
    let apply_s = started.elapsed().as_secs_f64();
    let events = prepared.len() as f64;
    println!(
        "{} events ({accepted} accepted): prepare {:.0} events/s, apply {:.0} events/s",
        prepared.len(),
        events / prepare_s,
        events / apply_s
    );
    Ok(())
}
