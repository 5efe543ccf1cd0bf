//! `kanjo demo` runs a Muroran morning end to end on a fresh embedded store and ends balanced;
//! the store it leaves replays, in another process, to the very reports it printed.

mod common;

use common::{TempDir, kanjo};

#[test]
fn kanjo_demo_exits_zero_prints_balanced_and_its_store_replays_to_the_same_reports() {
    let dir = TempDir::new("demo");
    let data = dir.join("demo-store");
    let data = data.to_str().expect("a UTF-8 temp path");
    let demo = kanjo(&["demo", "--data", data, "--voters", "500"]);
    let stdout = String::from_utf8_lossy(&demo.stdout);
    let stderr = String::from_utf8_lossy(&demo.stderr);
    assert!(
        demo.status.success(),
        "kanjo demo failed: {}\n{stdout}\n{stderr}",
        demo.status
    );
    assert!(stdout.contains("balanced"), "{stdout}");
    assert!(
        stdout.contains("already_redeemed"),
        "the walkthrough's second check-in is refused:\n{stdout}"
    );

    let trial_balance = kanjo(&["report", "trial-balance", "--data", data]);
    let replayed = String::from_utf8_lossy(&trial_balance.stdout);
    assert!(
        trial_balance.status.success(),
        "{replayed}{}",
        String::from_utf8_lossy(&trial_balance.stderr)
    );
    assert!(
        stdout.contains(&*replayed),
        "the replayed trial balance is the one the demo printed:\n{replayed}\n---\n{stdout}"
    );

    let operators = kanjo(&["report", "operators", "--data", data]);
    let replayed = String::from_utf8_lossy(&operators.stdout);
    assert!(
        operators.status.success(),
        "{replayed}{}",
        String::from_utf8_lossy(&operators.stderr)
    );
    assert!(replayed.contains("donan-bus"), "{replayed}");
    assert!(
        stdout.contains(&*replayed),
        "the replayed operator report is the one the demo printed:\n{replayed}\n---\n{stdout}"
    );
}
