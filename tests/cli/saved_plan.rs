//! Saved plans: `plan -o FILE` then `apply FILE` applies exactly the
//! reviewed plan, once; a changed file, a moved live state, another
//! format or a stack that is no longer the same are refused.

use crate::support::*;

fn stack() -> String {
    "[stack]\nname = \"sp\"\nregion = \"ap-northeast-1\"\n\n[network]\nazs = 2\n\n[database]\nengine = \"postgres\"\nversion = \"16\"\n"
        .to_string()
}

fn apply_file(file: &str) -> (i32, String, String) {
    let mut c = ekstack();
    c.args(["apply", file, "--yes"]);
    run(c)
}

/// A saved plan applies once and exactly; after it, or after the file
/// or live state moves, it is refused with why; the file holds no secret.
#[test]
fn a_saved_plan_applies_exactly_once_and_a_stale_one_is_refused() {
    require_emulator();
    let p = Project::with_text(&stack(), "svpl");
    p.write_env("asis", "# no overrides\n");
    let file = p.path().parent().unwrap().join("plan.json");
    let file = file.to_str().unwrap();
    let secrets = Sentinels::new();
    let (code, _, err) = p.run_env(&["plan", "--env", "asis", "-o", file], &secrets.env());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Saved the plan to"), "{err}");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(saved["ekstack_saved_plan"], 1);
    assert_eq!(saved["flags"]["allow_data_loss"], false);
    assert_eq!(saved["stack"].as_str(), Some(p.name.as_str()));

    // Applied from another directory, by the file alone.
    let mut c = ekstack();
    c.args(["apply", file, "--yes"]).current_dir(std::env::temp_dir());
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Apply complete"), "{err}");
    let (code, _, _) = p.run(&["plan", "--env", "asis", "--detailed-exitcode"]);
    assert_eq!(code, 0, "the saved plan converged the stack");

    // Single use: live state is not what it was.
    let (code, _, err) = apply_file(file);
    assert_eq!(code, 1);
    assert!(err.contains("live state changed since the plan was saved"), "{err}");

    // The database's real password, stored where RDS keeps it, never
    // reaches a saved plan.
    let aws = Independent::new("ap-northeast-1");
    let db = aws.db_instance(&format!("{}-db", p.name)).unwrap();
    let secret = db.master_user_secret().and_then(|s| s.secret_arn()).unwrap();
    aws.put_secret_string(
        secret,
        &serde_json::json!({ "username": "app", "password": secrets.db_password }).to_string(),
    );
    p.write_stack(&stack().replace("[database]\n", "[database]\nbackup_retention_days = 3\n"));
    let (code, _, err) = p.run_env(&["plan", "--env", "asis", "-o", file], &secrets.env());
    assert_eq!(code, 0, "{err}");
    secrets.assert_absent("plan -o", &std::fs::read_to_string(file).unwrap());

    // The stack file edited after the plan was saved.
    p.write_stack(&stack().replace("[database]\n", "[database]\nbackup_retention_days = 4\n"));
    let (code, _, err) = apply_file(file);
    assert_eq!(code, 1);
    assert!(err.contains("changed since the plan was saved"), "{err}");
    // Now naming another stack.
    p.write_stack(&stack().replace(&format!("name = \"{}\"", p.name), "name = \"other\""));
    let text = std::fs::read_to_string(p.path()).unwrap().replace(&p.name, "other");
    std::fs::write(p.path(), text).unwrap();
    let (code, _, err) = apply_file(file);
    assert_eq!(code, 1);
    assert!(err.contains("but its files now say stack other"), "{err}");
    // Another format.
    let other = std::fs::read_to_string(file)
        .unwrap()
        .replace("\"ekstack_saved_plan\": 1", "\"ekstack_saved_plan\": 9");
    std::fs::write(file, other).unwrap();
    let (code, _, err) = apply_file(file);
    assert_eq!(code, 1);
    assert!(
        err.contains("is a saved plan of format 9; this ekstack reads format 1"),
        "{err}"
    );

    // Live state moved between plan and apply (a change made elsewhere).
    p.write_stack(&stack().replace("[database]\n", "[database]\nbackup_retention_days = 3\n"));
    let (code, _, err) = p.run(&["plan", "--env", "asis", "-o", file]);
    assert_eq!(code, 0, "{err}");
    aws.block_on(
        aws.rds
            .modify_db_instance()
            .db_instance_identifier(format!("{}-db", p.name))
            .deletion_protection(false)
            .backup_retention_period(5)
            .apply_immediately(true)
            .send(),
    )
    .unwrap();
    let (code, _, err) = apply_file(file);
    assert_eq!(code, 1);
    assert!(err.contains("live state changed since the plan was saved"), "{err}");
    assert_eq!(p.destroy("asis").0, 0);
}
