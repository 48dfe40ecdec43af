//! The workspace's architecture rules (ARCHITECTURE.md, "Dependency rules"), checked against the
//! code itself: the module graphs of the shipped crates have no cycles, and crates depend on each
//! other only in the allowed directions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use krill_test_support::repo_root;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The `crate::` and `super::` module graph of one crate's `src/`, from the source text. A module
/// is named by its path (`export::scan`); `lib.rs`/`main.rs` (the crate root, which declares and
/// re-exports everything) and `#[cfg(test)]` code are left out.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    collect_rs(src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .filter_map(|file| Some((module_name(src, file)?, file.clone())))
        .collect();
    let mut graph = Graph::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let own: Vec<&str> = module.split("::").collect();
        let edges = graph.entry(module.clone()).or_default();
        for path in referenced_paths(&code_only(&text)) {
            let absolute: Vec<String> = if path[0] == "crate" {
                path[1..].to_vec()
            } else {
                // `super::super::x` from `a::b::c` is `a::x`.
                let ups = path.iter().take_while(|s| *s == "super").count();
                let Some(base) = own.len().checked_sub(ups) else {
                    continue;
                };
                own[..base]
                    .iter()
                    .map(|s| s.to_string())
                    .chain(path[ups..].iter().cloned())
                    .collect()
            };
            // The longest prefix that names a module of this crate.
            if let Some(target) = (1..=absolute.len())
                .rev()
                .map(|n| absolute[..n].join("::"))
                .find(|name| modules.contains_key(name))
                && &target != module
            {
                edges.insert(target);
            }
        }
    }
    graph
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// `src/export/scan.rs` -> `export::scan`; `src/zip/mod.rs` -> `zip`; the crate roots -> None.
fn module_name(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") || parts.is_empty() {
        return None;
    }
    Some(parts.join("::"))
}

/// The text without comments and without the `#[cfg(test)]` module that ends a file by
/// convention (a test may reach anywhere).
fn code_only(text: &str) -> String {
    let body = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    body.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path starting with `crate::` or `super::`, with `use` groups expanded:
/// `use crate::{a::{b, c}, d}` gives `crate::a::b`, `crate::a::c`, `crate::d`.
fn referenced_paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let head = start.trim_end_matches("::").to_owned();
        let mut from = 0;
        while let Some(at) = code[from..].find(start).map(|i| i + from) {
            from = at + start.len();
            // Skip `krill_crate::` and the like: the keyword must start an identifier.
            // and the second `super` of `super::super::` (its chain is read whole below).
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_')
                || code[..at].ends_with("::")
            {
                continue;
            }
            let mut rest = &code[from..];
            let mut prefix = vec![head.clone()];
            // A chain of `super::super::`.
            while let Some(more) = rest.strip_prefix("super::") {
                prefix.push("super".into());
                rest = more;
            }
            let (paths, _) = parse_tree(rest);
            for path in paths {
                let mut full = prefix.clone();
                full.extend(path);
                found.push(full);
            }
        }
    }
    found
}

/// Parses `a::b::{c, d::e}` at the start of `text`; returns the paths and the bytes consumed.
fn parse_tree(text: &str) -> (Vec<Vec<String>>, usize) {
    let text_bytes = text.as_bytes();
    let mut at = 0;
    let skip_space = |at: &mut usize| {
        while *at < text_bytes.len() && text_bytes[*at].is_ascii_whitespace() {
            *at += 1;
        }
    };
    let mut segments = Vec::new();
    loop {
        skip_space(&mut at);
        if at < text_bytes.len() && text_bytes[at] == b'{' {
            at += 1;
            let mut paths = Vec::new();
            loop {
                skip_space(&mut at);
                if at >= text_bytes.len() {
                    break;
                }
                if text_bytes[at] == b'}' {
                    at += 1;
                    break;
                }
                if text_bytes[at] == b',' {
                    at += 1;
                    continue;
                }
                let (inner, used) = parse_tree(&text[at..]);
                if used == 0 {
                    // Not a path (e.g. `self`, `*`): skip one byte.
                    at += 1;
                    continue;
                }
                at += used;
                for path in inner {
                    let mut full = segments.clone();
                    full.extend(path);
                    paths.push(full);
                }
                // Skip an `as alias`.
                skip_space(&mut at);
                if text[at..].starts_with("as ") {
                    at += 3;
                    skip_space(&mut at);
                    at += text[at..]
                        .bytes()
                        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                        .count();
                }
            }
            if paths.is_empty() && !segments.is_empty() {
                paths.push(segments);
            }
            return (paths, at);
        }
        let ident_len = text[at..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if ident_len == 0 {
            break;
        }
        segments.push(text[at..at + ident_len].to_owned());
        at += ident_len;
        if text[at..].starts_with("::") {
            at += 2;
        } else {
            break;
        }
    }
    if segments.is_empty() {
        (Vec::new(), 0)
    } else {
        (vec![segments], at)
    }
}

/// A cycle in `graph`, as the modules along it (first repeated at the end), if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

fn assert_acyclic(crate_dir: &str) {
    let graph = module_graph(&repo_root().join(crate_dir).join("src"));
    assert!(
        graph.len() > 3,
        "{crate_dir}: too few modules found: {graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "{crate_dir} has a module cycle: {}. Move what both sides need into a module of its \
             own (ARCHITECTURE.md, Dependency rules).",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_helpers_modules_form_no_cycle() {
    assert_acyclic("harness/helper");
}

#[test]
fn the_snapshot_stores_modules_form_no_cycle() {
    assert_acyclic("harness/snapshot-store");
}

#[test]
fn claws_modules_form_no_cycle() {
    assert_acyclic("harness/claw");
}

#[test]
fn the_clis_modules_form_no_cycle() {
    assert_acyclic("harness/cli");
}

#[test]
fn use_groups_and_inline_paths_are_edges() {
    let code = code_only(
        "use crate::{a::{b, c as d}, e};\nfn f() { crate::g::h(); super::i::j(); }\n\
         // crate::comment::ignored\nuse krill_crate::x;\n#[cfg(test)]\nmod tests { use crate::t; }\n",
    );
    let paths: BTreeSet<String> = referenced_paths(&code)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    let expected: BTreeSet<String> = [
        "crate::a::b",
        "crate::a::c",
        "crate::e",
        "crate::g::h",
        "super::i::j",
    ]
    .map(String::from)
    .into();
    assert_eq!(paths, expected);
}

#[test]
fn a_cycle_is_found_and_named() {
    let graph: Graph = [
        ("run", &["context"][..]),
        ("context", &["snapshot"]),
        ("snapshot", &["run"]),
        ("paths", &[]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(
        find_cycle(&graph).map(|c| c.join(" -> ")).as_deref(),
        Some("context -> snapshot -> run -> context")
    );
    let mut acyclic = graph.clone();
    acyclic.insert("snapshot".into(), BTreeSet::new());
    assert_eq!(find_cycle(&acyclic), None);
}

// --- crate dependencies ------------------------------------------------------------------------

/// A workspace crate's directory, by crate name.
type CrateDirs = BTreeMap<String, PathBuf>;
/// (package, dependency, kind) of one dependency between workspace crates.
type Edge = (String, String, String);

/// (package, dependency, kind) for every dependency between workspace crates; kind is "normal",
/// "dev" or "build". From `cargo metadata`, so it is what cargo itself resolves.
fn workspace_edges() -> (CrateDirs, Vec<Edge>) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("running cargo metadata: {e}"));
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("cargo metadata: {e}"));
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let dirs: CrateDirs = packages
        .iter()
        .filter_map(|p| {
            let manifest = PathBuf::from(p["manifest_path"].as_str()?);
            Some((
                p["name"].as_str()?.to_owned(),
                manifest.parent()?.to_owned(),
            ))
        })
        .collect();
    let mut edges = Vec::new();
    for package in &packages {
        let name = package["name"].as_str().unwrap_or_default().to_owned();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if dirs.contains_key(dep_name) {
                let kind = dep["kind"].as_str().unwrap_or("normal").to_owned();
                edges.push((name.clone(), dep_name.to_owned(), kind));
            }
        }
    }
    (dirs, edges)
}

const SHIPPED: [&str; 5] = [
    "krill-claw",
    "krill-keeper",
    "krill-snapshot-store",
    "krill-helper",
    "krill-cli",
];

#[test]
fn claw_knows_nothing_of_the_workspace() {
    let (_, edges) = workspace_edges();
    let bad: Vec<_> = edges
        .iter()
        .filter(|(from, _, kind)| from == "krill-claw" && kind != "dev")
        .collect();
    assert!(bad.is_empty(), "krill-claw must stand alone: {bad:?}");
}

#[test]
fn the_snapshot_store_knows_nothing_of_the_workspace() {
    let (_, edges) = workspace_edges();
    let bad: Vec<_> = edges
        .iter()
        .filter(|(from, _, kind)| from == "krill-snapshot-store" && kind != "dev")
        .collect();
    assert!(
        bad.is_empty(),
        "krill-snapshot-store must stand alone: {bad:?}"
    );
}

#[test]
fn shipped_crates_never_depend_on_test_crates() {
    let (dirs, edges) = workspace_edges();
    let tests_dir = repo_root().join("harness/tests");
    let tests_dir = tests_dir.canonicalize().unwrap_or(tests_dir);
    let is_test_crate = |name: &str| {
        dirs.get(name)
            .map(|dir| dir.canonicalize().unwrap_or(dir.clone()))
            .is_some_and(|dir| dir.starts_with(&tests_dir))
    };
    for shipped in SHIPPED {
        assert!(
            dirs.contains_key(shipped),
            "{shipped} is not in the workspace"
        );
        assert!(
            !is_test_crate(shipped),
            "{shipped} must not live under harness/tests"
        );
    }
    assert!(
        is_test_crate("krill-test-support"),
        "the rule checks nothing: {dirs:?}"
    );
    let bad: Vec<_> = edges
        .iter()
        .filter(|(from, to, kind)| {
            SHIPPED.contains(&from.as_str()) && kind != "dev" && is_test_crate(to)
        })
        .collect();
    assert!(
        bad.is_empty(),
        "shipped code depends on test-only crates: {bad:?}"
    );
}

#[test]
fn nothing_depends_on_the_cli() {
    let (_, edges) = workspace_edges();
    let bad: Vec<_> = edges
        .iter()
        .filter(|(from, to, _)| to == "krill-cli" && from != "krill-cli")
        .collect();
    assert!(
        bad.is_empty(),
        "krill-cli (kubectl-krill) is a leaf: {bad:?}"
    );
}

#[test]
fn nothing_depends_on_the_helper() {
    let (_, edges) = workspace_edges();
    let bad: Vec<_> = edges
        .iter()
        .filter(|(_, to, _)| to == "krill-helper")
        .collect();
    assert!(bad.is_empty(), "krill-helper is a leaf: {bad:?}");
}
