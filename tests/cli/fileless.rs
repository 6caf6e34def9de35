//! A stack whose file is gone: `status --stack` and `destroy --stack` find
//! it by its tags and names in the named region, with destroy's preflight,
//! final snapshot, sweep and final check.

use crate::support::*;

/// `ekstack ARGS` with no stack file, through the scenario's proxy.
fn fileless(s: &Scenario, args: &[&str]) -> (i32, String, String) {
    let mut c = ekstack();
    c.args(args)
        .args(["--endpoint-url", &s.proxy.url()])
        .env("EKSTACK_POLL_SCALE", "0.01");
    run(c)
}

/// The learning stack applied, its file deleted: status lists it by name,
/// a protected database refuses the destroy naming the AWS CLI command that
/// lifts the protection, and once lifted, `destroy --stack` leaves nothing
/// of the stack but its final snapshot.
#[test]
fn a_stack_without_its_file_is_found_and_destroyed_by_name() {
    require_emulator();
    let s = Scenario::from_sample("learning", "nofile");
    let name = s.p.name.clone();
    s.ok(&["apply", "--env", "mvp", "--yes"]);
    std::fs::remove_file(s.p.path()).unwrap();
    let region = ["--region", "ap-northeast-1"];

    // Bad input, before any AWS call.
    let (code, _, err) = fileless(&s, &["destroy", "--stack", &name, "--yes"]);
    assert_ne!(code, 0);
    assert!(err.contains("--stack needs --region"), "{err}");
    let (code, _, err) = fileless(
        &s,
        &[
            "destroy",
            "stacks/x.toml",
            "--stack",
            &name,
            "--region",
            "ap-northeast-1",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("cannot be used with"), "{err}");
    let (code, _, err) = fileless(&s, &["destroy", "--stack", "Not_A_Name", "--region", "ap-northeast-1"]);
    assert_ne!(code, 0);
    assert!(err.contains("--stack: \"Not_A_Name\" must match"), "{err}");

    let (code, out, err) = fileless(&s, &[&["status", "--stack", &name][..], &region[..]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("without its file"), "{out}");
    assert!(
        out.contains(&format!("{name}-db")) && out.contains("eks-cluster"),
        "{out}"
    );

    let aws = s.aws("ap-northeast-1");
    aws.block_on(
        aws.rds
            .modify_db_instance()
            .db_instance_identifier(format!("{name}-db"))
            .deletion_protection(true)
            .apply_immediately(true)
            .send(),
    )
    .unwrap();
    let (code, _, err) = fileless(&s, &[&["destroy", "--stack", &name, "--yes"][..], &region[..]].concat());
    assert_eq!(code, 1, "{err}");
    let command = format!(
        "aws rds modify-db-instance --region ap-northeast-1 --db-instance-identifier {name}-db --no-deletion-protection --apply-immediately"
    );
    assert!(err.contains(&command), "the way out is the exact command:\n{err}");
    assert!(err.contains("Nothing was deleted"), "{err}");
    aws.block_on(
        aws.rds
            .modify_db_instance()
            .db_instance_identifier(format!("{name}-db"))
            .deletion_protection(false)
            .apply_immediately(true)
            .send(),
    )
    .unwrap();

    let (code, out, err) = fileless(&s, &[&["destroy", "--stack", &name, "--yes"][..], &region[..]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Destroy complete"), "{err}");
    assert!(
        err.contains(&format!("snapshot {name}-db-final-")),
        "a final snapshot, as with no file to say otherwise:\n{err}"
    );
    assert!(Independent::new("ap-northeast-1").tagged_leftovers(&name).is_empty());
    assert!(Independent::new("ap-northeast-1")
        .db_instance(&format!("{name}-db"))
        .is_none());
    let (code, out, err) = fileless(&s, &[&["status", "--stack", &name][..], &region[..]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Nothing of it is live"), "{out}");
}
