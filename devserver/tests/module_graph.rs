//! The module layers drawn in `src/main.rs` are the real ones: every `crate::x` a module names is
//! on a lower line of the drawing (so no two modules import each other), and every source file is
//! in the drawing and under 600 lines.

use std::collections::BTreeMap;
use std::path::Path;

const MAX_LINES: usize = 600;

/// The layers, top first, from the ```text block of main.rs's doc comment (a line's first
/// column of names, up to two spaces before the description).
fn drawn_layers(main: &str) -> Vec<Vec<String>> {
    main.lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .skip_while(|line| line.trim() != "```text")
        .skip(1)
        .take_while(|line| line.trim() != "```")
        .map(|line| {
            line.trim()
                .split("   ")
                .next()
                .unwrap()
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .collect()
}

/// The first segment of each path after `crate::`, `crate::{a, b::c}` included.
fn crate_references(source: &str) -> Vec<String> {
    let identifier = |text: &str| -> String {
        text.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    for (start, _) in source.match_indices("crate::") {
        let rest = &source[start + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let mut depth = 0;
                let mut item_start = 0;
                for (index, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            found.push(identifier(&group[item_start..index]));
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            found.push(identifier(&group[item_start..index]));
                            item_start = index + 1;
                        }
                        _ => {}
                    }
                }
            }
            None => found.push(identifier(rest)),
        }
    }
    found.retain(|name| !name.is_empty());
    found
}

#[test]
fn modules_only_use_modules_drawn_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let main = std::fs::read_to_string(src.join("main.rs")).unwrap();
    let layers = drawn_layers(&main);
    assert!(layers.len() > 2, "no layer drawing in main.rs: {layers:?}");
    let level: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(index, names)| names.iter().map(move |name| (name.as_str(), index)))
        .collect();

    let mut files = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        let lines = source.lines().count();
        assert!(lines <= MAX_LINES, "{name}.rs has {lines} lines");
        files.push((name, source));
    }
    let mut wrong = Vec::new();
    for (name, source) in &files {
        if name == "main" {
            continue; // the crate root declares and uses everything
        }
        let Some(&own) = level.get(name.as_str()) else {
            wrong.push(format!("{name}.rs is not in main.rs's drawing"));
            continue;
        };
        for used in crate_references(source) {
            match level.get(used.as_str()) {
                Some(&below) if below > own => {}
                Some(_) => wrong.push(format!("{name} uses {used}, not drawn below it")),
                None => wrong.push(format!("{name} uses {used}, not in the drawing")),
            }
        }
    }
    for drawn in level.keys() {
        if !files.iter().any(|(name, _)| name == drawn) {
            wrong.push(format!(
                "{drawn} is drawn but src/{drawn}.rs does not exist"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn references_are_found_in_every_form() {
    let source = "use crate::a::B;\nuse crate::{b, c::{D, E}, d::F};\nfn f() { crate::e::g() }";
    assert_eq!(crate_references(source), ["a", "b", "c", "d", "e"]);
}
