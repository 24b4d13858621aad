//! What a new user's first deploy needs from this repository, held without an AWS account: the
//! toolchain file names both Lambda targets, SAM builds without a terminal, and a bootstrap built
//! for the wrong machine is refused before a synth or a deploy uploads it (docs/deployment.md,
//! "What we rely on from AWS").

use std::path::{Path, PathBuf};
use std::process::Command;

use ses_ledger_integration_tests::repo_root;

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_toolchain_file_names_both_lambda_targets() {
    let toolchain = read("rust-toolchain.toml");
    let targets = toolchain
        .lines()
        .find(|l| l.trim_start().starts_with("targets"))
        .expect("a targets line");
    for target in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        assert!(targets.contains(&format!("\"{target}\"")), "{targets}");
    }
}

/// SAM CLI 1.74 to 1.155 prompt before a rust-cargolambda build (a beta there); 1.156 and later
/// do not. The version the project installs needs nothing, and samconfig.toml answers the older
/// ones, so `sam build` runs without a terminal either way; `sam deploy` gets what it would ask.
#[test]
fn sam_builds_and_deploys_without_asking() {
    let stack_script = read("scripts/local-stack.sh");
    let pinned = stack_script
        .lines()
        .find_map(|l| l.strip_prefix("SAM_CLI_VERSION=\""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("the pinned SAM CLI");
    let minor: u32 = pinned
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .expect("a version");
    assert!(
        pinned.starts_with("1.") && minor >= 156,
        "SAM CLI {pinned} treats rust-cargolambda as a beta"
    );
    let samconfig = read("samconfig.toml");
    let section = |name: &str| -> String {
        samconfig
            .split(&format!("[{name}]"))
            .nth(1)
            .map(|rest| rest.split("\n[").next().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert!(
        section("default.build.parameters").contains("beta_features = true"),
        "older SAM CLIs would ask before building"
    );
    let deploy = section("default.deploy.parameters");
    for setting in ["capabilities = \"CAPABILITY_IAM\"", "resolve_s3 = true"] {
        assert!(
            deploy.contains(setting),
            "sam deploy would ask for {setting}"
        );
    }
    let template = read("template.yaml");
    assert_eq!(
        template.matches("BuildMethod: rust-cargolambda").count(),
        3,
        "the three functions are built by cargo-lambda"
    );
}

fn check_arch(arch: &str, files: &[&Path]) -> (bool, String) {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/check-lambda-arch.sh"))
        .arg(arch)
        .args(files)
        .output()
        .expect("bash");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// An ELF header of the given machine (e_machine at offset 18), as a bootstrap starts.
fn elf_header(machine: u16) -> Vec<u8> {
    let mut header = vec![0u8; 64];
    header[..4].copy_from_slice(b"\x7fELF");
    header[4] = 2; // 64-bit
    header[5] = 1; // little-endian
    header[18..20].copy_from_slice(&machine.to_le_bytes());
    header
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ses-ledger-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn a_bootstrap_of_the_other_machine_is_refused_with_the_command_that_builds_the_right_one() {
    // This test binary is a real x86-64 ELF executable, as the suite's build is.
    let host = std::env::current_exe().expect("test binary");
    assert_eq!(check_arch("x86_64", &[&host]), (true, String::new()));
    let (ok, said) = check_arch("arm64", &[&host]);
    assert!(!ok);
    assert!(said.contains("built for x86-64"), "{said}");
    assert!(
        said.contains("cargo lambda build --release --arm64"),
        "{said}"
    );

    let dir = scratch("arch");
    let arm = dir.join("arm-bootstrap");
    std::fs::write(&arm, elf_header(183)).expect("write");
    assert_eq!(check_arch("arm64", &[&arm]), (true, String::new()));
    let (ok, said) = check_arch("x86_64", &[&arm]);
    assert!(!ok && said.contains("built for aarch64"), "{said}");
    let text = dir.join("bootstrap.txt");
    std::fs::write(&text, "#!/bin/sh\necho hi\n").expect("write");
    let (ok, said) = check_arch("x86_64", &[&text, &dir.join("missing")]);
    assert!(
        !ok && said.contains("not an ELF executable") && said.contains("missing"),
        "{said}"
    );
}

/// `scripts/cdk.sh deploy` checks the binaries before it installs, compiles or reaches AWS: the
/// stack's default is arm64, the binaries here are x86-64.
#[test]
fn the_cdk_deploy_refuses_binaries_of_the_other_machine_before_anything_else() {
    let host = std::env::current_exe().expect("test binary");
    let code = scratch("cdk-code");
    for function in ["ingest", "alarm", "count"] {
        std::fs::create_dir_all(code.join(function)).expect("dir");
        std::fs::copy(&host, code.join(function).join("bootstrap")).expect("copy");
    }
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/cdk.sh"))
        .args(["deploy", "--", "-c", "AlertEmail=ops@example.com"])
        .env("CDK_CODE_DIR", &code)
        // Nothing of AWS is reachable from here: the refusal must come first.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .expect("bash");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("are not for arm64") && said.contains("cargo lambda build --release --arm64"),
        "{said}"
    );
    assert!(
        !said.contains("npm ci"),
        "it stopped before installing: {said}"
    );
}

/// The stack's parameter defaults are the functions' own defaults: a stack deployed with neither
/// set behaves as the code does when run alone (the CLI, the tests).
#[test]
fn the_template_s_defaults_are_the_code_s() {
    let template = read("template.yaml");
    let default_of = |parameter: &str| -> String {
        let at = template
            .find(&format!("\n  {parameter}:\n"))
            .unwrap_or_else(|| panic!("no parameter {parameter}"));
        template[at..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with("    "))
            .find_map(|l| l.trim().strip_prefix("Default: "))
            .unwrap_or_else(|| panic!("{parameter} has no default"))
            .trim_matches('"')
            .to_string()
    };
    let ledger = ses_ledger::config::LedgerConfig::default();
    assert_eq!(
        default_of("FeedbackLoopProviders"),
        ses_ledger::provider::DEFAULT_FEEDBACK_LOOP_PROVIDERS.join(",")
    );
    assert_eq!(
        default_of("FeedbackLoopProviders"),
        ledger.feedback_loop_providers.join(",")
    );
    assert_eq!(default_of("TenantTags"), ledger.tenant_tags.join(","));
    assert_eq!(
        default_of("HistoryTtlDays"),
        ledger.history_ttl_days.to_string()
    );
    assert_eq!(
        default_of("SoftBounceLimit"),
        ledger.soft_bounce_limit.to_string()
    );
    assert_eq!(
        default_of("SoftBounceWindowDays"),
        ledger.soft_bounce_window_days.to_string()
    );
}
