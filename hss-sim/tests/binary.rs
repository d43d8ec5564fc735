//! The `hss-sim` binary refuses a bad configuration at start, naming the key.

use std::process::Command;

#[test]
fn bad_config_exits_2_naming_the_keys() {
    let dir = std::env::temp_dir().join(format!("hss-sim-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    let text = include_str!("../hss.toml")
        .replace(
            "origin_host = \"hss.ims.example\"",
            "origin_host = \"hss ims\"",
        )
        .replace("sqlite://hss.db?mode=rwc", "mysql://db");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hss-sim"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`diameter.origin_host`"), "{stderr}");
    assert!(stderr.contains("`database.url`"), "{stderr}");

    std::fs::write(&path, "[diameter]\norigin_hots = \"x\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hss-sim"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("origin_hots"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_config_file_fails_with_its_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_hss-sim"))
        .args(["--config", "/nonexistent/hss.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/hss.toml"));
}
