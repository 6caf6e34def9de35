//! Japanese: the plan's annotations and summary, and the common errors, in
//! the reader's language; JSON always in English.

use crate::support::*;

/// mvp applied, then a file that changes it in every way the plan
/// annotates: a promotion (downtime notes), a database made again (data
/// loss), a VPC range AWS cannot change (impossible).
#[test]
fn plan_annotations_are_in_japanese_and_the_json_stays_english() {
    require_emulator();
    let p = Project::from_sample("learning", "ja");
    p.apply_ok("mvp");
    let text = std::fs::read_to_string(p.path())
        .unwrap()
        .replace("cidr = \"10.0.0.0/16\"", "cidr = \"10.1.0.0/16\"")
        .replace("db_name = \"app\"", "db_name = \"shop\"");
    p.write_stack(&text);

    let (code, ja, err) = p.run(&["plan", "--env", "prod", "--lang", "ja"]);
    assert_eq!(code, 0, "{err}");
    for phrase in [
        // The header of each action and the summary.
        "その場で更新する",
        "置き換える(削除してから作り直す)",
        "プラン: 追加",
        // Downtime: the Multi-AZ conversion and the class change.
        "Multi-AZ への変換: ダウンタイムなし",
        "クラス変更:",
        // Data loss, with the final snapshot.
        "!! データ消失: データベース",
        "最終スナップショット",
        // Why AWS cannot make a change.
        "は適用できない: VPC の CIDR ブロックは変更できない",
        "コスト:",
    ] {
        assert!(ja.contains(phrase), "no {phrase:?} in\n{ja}");
    }
    for english in ["will be updated", "DATA LOSS", "cannot be applied", "no downtime"] {
        assert!(!ja.contains(english), "{english:?} left in English:\n{ja}");
    }

    // The locale picks Japanese too; `--json` stays English, word for word.
    let (_, by_locale, _) = p.run_env(&["plan", "--env", "prod"], &[("LANG", "ja_JP.UTF-8")]);
    assert!(by_locale.contains("データ消失"), "{by_locale}");
    let (_, en_json, _) = p.run(&["plan", "--env", "prod", "--json"]);
    let (_, ja_json, _) = p.run_env(&["plan", "--env", "prod", "--json"], &[("LC_ALL", "ja_JP.UTF-8")]);
    let (en_json, ja_json): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&en_json).unwrap(),
        serde_json::from_str(&ja_json).unwrap(),
    );
    assert_eq!(en_json["actions"], ja_json["actions"]);
    let text = ja_json.to_string();
    assert!(
        text.contains("Multi-AZ conversion: no downtime") && text.contains("every row in database"),
        "{text}"
    );

    let (code, _, err) = p.destroy("prod");
    assert_eq!(code, 0, "{err}");
}

/// The errors a user meets first, in Japanese, still naming file, line and key.
#[test]
fn common_errors_are_in_japanese() {
    let p = Project::from_sample("learning", "jaerr");
    let ja = [("LANG", "ja_JP.UTF-8")];
    let text = std::fs::read_to_string(p.path())
        .unwrap()
        .replace("nat = \"single\"", "natt = \"single\"");
    p.write_stack(&text);
    let (code, _, err) = p.run_env(&["validate"], &ja);
    assert_eq!(code, 1);
    for phrase in [
        "stack.toml:18:1: network.natt:",
        "[network] に未知のキー `natt` がある",
        "もしかして `nat`?",
        "エラーが 1 件ある。AWS には何も送っていない。",
    ] {
        assert!(err.contains(phrase), "no {phrase:?} in\n{err}");
    }
    // LC_ALL comes before LANG.
    let (_, _, err) = p.run_env(&["validate"], &[("LANG", "ja_JP.UTF-8"), ("LC_ALL", "C")]);
    assert!(err.contains("unknown key `natt` in [network]"), "{err}");

    let text = text
        .replace("natt = \"single\"", "nat = \"singel\"")
        .replace("desired = 1", "desired = 5");
    p.write_stack(&text);
    let (_, _, err) = p.run_env(&["validate"], &ja);
    for phrase in [
        "のいずれかでなければならない",
        "もしかして \"single\"?",
        "desired(5)は min(1)以上 max(2)以下でなければならない",
        "エラーが 2 件ある",
    ] {
        assert!(err.contains(phrase), "no {phrase:?} in\n{err}");
    }

    let (_, _, err) = p.run_env(&["validate", "--env", "prd"], &ja);
    assert!(
        err.contains("環境 \"prd\" はない") && err.contains("もしかして \"prod\"?"),
        "{err}"
    );

    let p = Project::from_sample("learning", "jacred");
    let mut c = p.cmd(&["plan", "--lang", "ja"]);
    without_credentials(&mut c);
    let (code, _, err) = run(c);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("エラー: ") && err.contains("AWS の認証情報"), "{err}");
}
