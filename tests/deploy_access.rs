//! Least privilege that stays true: each component keeps the list of Kubernetes and AWS API
//! calls it makes next to its code (`crates/<component>/src/access.rs`), and here
//! - the AWS operations its source calls are exactly its IAM list,
//! - each shipped IAM policy grants exactly that list (no wildcards, nothing more),
//! - its RBAC grants every listed access, and defines nothing the list does not name.
//!
//! The end-to-end tests check the other direction at run time: every request a binary sends
//! to the Kubernetes API stand-in is in its list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;
use tidal_runtime::access::ApiAccess;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Rust files under `dir`, test code left out (`tests.rs`, `testing.rs`, `fixtures.rs`,
/// `tests/` folders, and inline `#[cfg(test)]` modules, which sit at the end of a file).
fn production_sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "tests" {
                    stack.push(path);
                }
            } else if name.ends_with(".rs")
                && !["tests.rs", "testing.rs", "fixtures.rs", "test_fixtures.rs"]
                    .contains(&name.as_str())
            {
                let text = std::fs::read_to_string(&path).unwrap();
                let production = match text.find("#[cfg(test)]\nmod tests {") {
                    Some(at) => text[..at].to_owned(),
                    None => text,
                };
                out.push((path, production));
            }
        }
    }
    out
}

/// The AWS SDK operations called in `text`: for every `.send()`, the call chain before it is
/// walked back over builder setters (calls with arguments) to the operation (the nearest call
/// without arguments, `into_paginator()`, `items()` and `customize()` aside). A chain that starts at a
/// variable (`request.send()`) continues where that variable was bound (`let mut request = …;`).
fn sdk_operations(text: &str) -> Vec<String> {
    let mut ops = Vec::new();
    let mut search = 0;
    while let Some(found) = text[search..].find(".send()") {
        let send = search + found;
        search = send + 1;
        let mut end = send;
        // At most a few hops from a variable to where it was bound.
        for _ in 0..4 {
            match walk_chain(text, end) {
                Chain::Operation(op) => {
                    ops.push(op);
                    break;
                }
                Chain::Variable(name) => match binding_end(text, end, &name) {
                    Some(at) => end = at,
                    None => break,
                },
                Chain::Other => break,
            }
        }
    }
    ops
}

enum Chain {
    Operation(String),
    Variable(String),
    Other,
}

/// Walks a method chain back from `end` (the `.` of the call after it, or a `;`).
fn walk_chain(text: &str, mut end: usize) -> Chain {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    loop {
        let mut i = end;
        while i > 0 && bytes[i - 1].is_ascii_whitespace() {
            i -= 1;
        }
        if i == 0 {
            return Chain::Other;
        }
        if bytes[i - 1] != b')' {
            let mut start = i;
            while start > 0 && ident(bytes[start - 1]) {
                start -= 1;
            }
            let before = text[..start].trim_end();
            return if start < i && !before.ends_with('.') {
                Chain::Variable(text[start..i].to_owned())
            } else {
                Chain::Other
            };
        }
        let close = i - 1;
        let mut depth = 0usize;
        let mut open = close;
        loop {
            match bytes[open] {
                b')' => depth += 1,
                b'(' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            if open == 0 {
                return Chain::Other;
            }
            open -= 1;
        }
        let mut name_start = open;
        while name_start > 0 && ident(bytes[name_start - 1]) {
            name_start -= 1;
        }
        if name_start == 0 || bytes[name_start - 1] != b'.' {
            return Chain::Other;
        }
        let name = &text[name_start..open];
        if text[open + 1..close].trim().is_empty()
            && !["into_paginator", "items", "customize"].contains(&name)
        {
            return Chain::Operation(name.to_owned());
        }
        end = name_start - 1;
    }
}

/// The `;` ending the nearest `let [mut] name = …;` before `before`.
fn binding_end(text: &str, before: usize, name: &str) -> Option<usize> {
    let head = &text[..before];
    let at = [format!("let mut {name} ="), format!("let {name} =")]
        .iter()
        .filter_map(|pattern| head.rfind(pattern.as_str()))
        .max()?;
    text[at..before].find(';').map(|i| at + i)
}

/// `describe_auto_scaling_groups` → `describeautoscalinggroups` (IAM names compared the same
/// way: case and underscores do not count, so `ListAWSDefault…` matches `list_aws_default…`).
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn check_aws_calls(component: &str, dirs: &[&str], actions: &[&str], problems: &mut Vec<String>) {
    let listed: BTreeSet<String> = actions
        .iter()
        .map(|a| fold(a.split_once(':').unwrap().1))
        .collect();
    let mut called = BTreeSet::new();
    for dir in dirs {
        for (path, text) in production_sources(&root().join(dir)) {
            for op in sdk_operations(&text) {
                if !listed.contains(&fold(&op)) {
                    problems.push(format!(
                        "{component}: {} calls {op}, which its IAM list does not name",
                        path.strip_prefix(root()).unwrap().display()
                    ));
                }
                called.insert(fold(&op));
            }
        }
    }
    for action in actions {
        if !called.contains(&fold(action.split_once(':').unwrap().1)) {
            problems.push(format!(
                "{component}: {action} is listed but no code under {dirs:?} calls it"
            ));
        }
    }
}

fn policy_actions(file: &str) -> BTreeSet<String> {
    let path = root().join(file);
    let policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for statement in policy["Statement"].as_array().unwrap() {
        assert_eq!(statement["Effect"], "Allow", "{file}");
        match &statement["Action"] {
            serde_json::Value::String(a) => {
                out.insert(a.clone());
            }
            serde_json::Value::Array(list) => {
                out.extend(list.iter().map(|a| a.as_str().unwrap().to_owned()));
            }
            other => panic!("{file}: Action {other}"),
        }
    }
    out
}

fn check_policy(file: &str, actions: &[&[&str]], problems: &mut Vec<String>) {
    let granted = policy_actions(file);
    let needed: BTreeSet<String> = actions
        .iter()
        .flat_map(|list| list.iter().map(|a| (*a).to_owned()))
        .collect();
    for extra in granted.difference(&needed) {
        problems.push(format!(
            "{file}: grants {extra}, which the component's code does not call"
        ));
    }
    for missing in needed.difference(&granted) {
        problems.push(format!(
            "{file}: does not grant {missing}, which the component calls"
        ));
    }
}

/// (group, resource, verb, namespaced) a rule grants.
type Grant = (String, String, String, bool);

fn grants_of(list: &[ApiAccess]) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for a in list {
        for r in a.resources {
            for v in a.verbs {
                out.insert((
                    a.group.to_owned(),
                    (*r).to_owned(),
                    (*v).to_owned(),
                    a.in_own_namespace,
                ));
            }
        }
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| s.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// What the Kubernetes-defined roles a component binds grant (as the API server bootstraps them).
fn system_role(name: &str) -> Option<Vec<ApiAccess>> {
    match name {
        "system:auth-delegator" => Some(vec![
            ApiAccess::cluster("authentication.k8s.io", &["tokenreviews"], &["create"]),
            ApiAccess::cluster(
                "authorization.k8s.io",
                &["subjectaccessreviews"],
                &["create"],
            ),
        ]),
        "extension-apiserver-authentication-reader" => Some(vec![ApiAccess::own_namespace(
            "",
            &["configmaps"],
            &["get", "list", "watch"],
        )]),
        _ => None,
    }
}

/// The grants of the roles `file` binds to `service_account`: those it defines, and those of
/// the system roles it binds. (Roles bound to other subjects, like the one letting the HPA
/// controller read the metrics API, are not the component's.)
fn rbac_grants(file: &str, service_account: &str) -> (BTreeSet<Grant>, BTreeSet<Grant>) {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let objects: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect();
    let mut bound = BTreeSet::new();
    let mut bound_system = BTreeSet::new();
    for object in &objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        let to_component = object["subjects"].as_sequence().is_some_and(|subjects| {
            subjects
                .iter()
                .any(|s| s["kind"] == "ServiceAccount" && s["name"] == service_account)
        });
        if kind.ends_with("RoleBinding") && to_component {
            let role = object["roleRef"]["name"].as_str().unwrap();
            match system_role(role) {
                Some(list) => bound_system.extend(grants_of(&list)),
                None => {
                    bound.insert(role.to_owned());
                }
            }
        }
    }
    let mut defined = BTreeSet::new();
    for object in &objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        match kind {
            "ClusterRole" | "Role" if bound.contains(name) => {
                for rule in object["rules"].as_sequence().unwrap() {
                    for g in strings(&rule["apiGroups"]) {
                        for r in strings(&rule["resources"]) {
                            for v in strings(&rule["verbs"]) {
                                defined.insert((g.clone(), r.clone(), v, kind == "Role"));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    (defined, bound_system)
}

fn check_rbac(file: &str, list: &[ApiAccess], problems: &mut Vec<String>) {
    let needed = grants_of(list);
    // deploy/<component>/rbac.yaml binds the ServiceAccount tidal-<component>.
    let component = file.split('/').nth(1).unwrap();
    let (defined, bound_system) = rbac_grants(file, &format!("tidal-{component}"));
    for (g, r, v, ns) in defined.difference(&needed) {
        let scope = if *ns { "Role" } else { "ClusterRole" };
        problems.push(format!(
            "{file}: its {scope} grants {v} on {r} (group {g:?}), which the code's access list does not name"
        ));
    }
    for grant @ (g, r, v, ns) in &needed {
        if !defined.contains(grant) && !bound_system.contains(grant) {
            let scope = if *ns { "a Role" } else { "a ClusterRole" };
            problems.push(format!(
                "{file}: no {scope} grants {v} on {r} (group {g:?}), which the code uses"
            ));
        }
    }
}

#[test]
fn every_aws_call_is_listed_and_every_iam_policy_grants_exactly_the_list() {
    let mut problems = Vec::new();
    check_aws_calls(
        "cluster-autoscaler",
        &["crates/cluster-autoscaler/src"],
        tidal_cluster_autoscaler::access::IAM_ACTIONS,
        &mut problems,
    );
    check_policy(
        "deploy/cluster-autoscaler/iam-policy.json",
        &[tidal_cluster_autoscaler::access::IAM_ACTIONS],
        &mut problems,
    );
    check_aws_calls(
        "metrics-adapter",
        &["crates/metrics-adapter/src"],
        tidal_metrics_adapter::access::IAM_ACTIONS,
        &mut problems,
    );
    check_policy(
        "deploy/metrics-adapter/iam-policy.json",
        &[tidal_metrics_adapter::access::IAM_ACTIONS],
        &mut problems,
    );
    use tidal_cp_autoscaler::access as cp;
    check_aws_calls(
        "cp-autoscaler (EKS)",
        &["crates/cp-autoscaler/src/eks"],
        cp::IAM_ACTIONS_EKS,
        &mut problems,
    );
    check_policy(
        "deploy/cp-autoscaler/iam-policy-eks.json",
        &[cp::IAM_ACTIONS_EKS],
        &mut problems,
    );
    check_aws_calls(
        "cp-autoscaler (self-managed)",
        &["crates/cp-autoscaler/src/self_managed"],
        cp::IAM_ACTIONS_SELF_MANAGED,
        &mut problems,
    );
    check_policy(
        "deploy/cp-autoscaler/iam-policy-self-managed.json",
        &[
            cp::IAM_ACTIONS_SELF_MANAGED,
            cp::IAM_ACTIONS_IMPLIED_SELF_MANAGED,
        ],
        &mut problems,
    );
    check_aws_calls(
        "quota-requester",
        &["crates/quota-requester/src"],
        tidal_quota_requester::access::IAM_ACTIONS,
        &mut problems,
    );
    check_policy(
        "deploy/quota-requester/iam-policy.json",
        &[tidal_quota_requester::access::IAM_ACTIONS],
        &mut problems,
    );
    check_aws_calls("vpa", &["crates/vpa/src"], &[], &mut problems);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_rbac_file_grants_exactly_what_its_component_calls() {
    let mut problems = Vec::new();
    check_rbac(
        "deploy/cluster-autoscaler/rbac.yaml",
        tidal_cluster_autoscaler::access::API_ACCESS,
        &mut problems,
    );
    check_rbac(
        "deploy/metrics-adapter/rbac.yaml",
        tidal_metrics_adapter::access::API_ACCESS,
        &mut problems,
    );
    check_rbac(
        "deploy/vpa/rbac.yaml",
        tidal_vpa::access::API_ACCESS,
        &mut problems,
    );
    check_rbac(
        "deploy/cp-autoscaler/rbac.yaml",
        tidal_cp_autoscaler::access::API_ACCESS,
        &mut problems,
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_checks_catch_an_unlisted_call_and_an_extra_grant() {
    let code = r#"
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(vec![name.clone()]))
            .into_paginator()
            .send();
        self.ec2.describe_instances().set_instance_ids(Some(f(g(x)))).send().await?;
        http.put(url.clone()).body(body).send().await?;
        let mut request = self.eks.update_cluster_config().name(&self.cluster);
        request = request.scaling(tier);
        let out = request.send().await?;
    "#;
    assert_eq!(
        sdk_operations(code),
        [
            "describe_auto_scaling_groups",
            "describe_instances",
            "update_cluster_config"
        ]
    );
    let mut problems = Vec::new();
    check_policy(
        "deploy/cluster-autoscaler/iam-policy.json",
        &[&tidal_cluster_autoscaler::access::IAM_ACTIONS[1..]],
        &mut problems,
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("grants autoscaling:DescribeAutoScalingGroups"));
    let mut problems = Vec::new();
    check_rbac(
        "deploy/cp-autoscaler/rbac.yaml",
        &tidal_cp_autoscaler::access::API_ACCESS[1..],
        &mut problems,
    );
    assert!(
        problems.iter().any(|p| p.contains("grants list on nodes")),
        "{problems:?}"
    );
}
