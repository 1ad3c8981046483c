//! The use-case modules import each other only downwards, in the order `app::LAYERS`
//! states: an import against it fails here, naming the file and the module it reached.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::app::LAYERS;

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Non-test source files under `app/`, with the top-level module each belongs to.
fn sources() -> Vec<(String, PathBuf)> {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&app).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() && name != "tests" {
            for inner in std::fs::read_dir(&path).unwrap().flatten() {
                out.push((name.clone(), inner.path()));
            }
        } else if path.extension().is_some_and(|e| e == "rs") && name != "mod" {
            out.push((name, path));
        }
    }
    out
}

/// The app modules a file names: `crate::app::x`, `super::x` from a top-level file or a
/// folder's `mod.rs`, `super::super::x` from a folder's other files, and grouped uses.
fn reached(path: &Path, text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let nested = path.parent().unwrap().file_name().unwrap() != "app"
        && path.file_name().unwrap() != "mod.rs";
    let up = if nested { "super::super::" } else { "super::" };
    let mut names = BTreeSet::new();
    for prefix in ["crate::app::", up] {
        for (at, _) in code.match_indices(prefix) {
            let rest = &code[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = &group[..group.find('}').unwrap_or(0)];
                names.extend(inner.split(',').map(|n| head(n.trim())));
            } else {
                names.insert(head(rest));
            }
        }
    }
    names
}

fn head(path: &str) -> String {
    path.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn use_cases_import_only_earlier_layers() {
    let mut wrong = Vec::new();
    for (module, path) in sources() {
        let own = layer_of(&module).unwrap_or_else(|| panic!("app::{module} is in no layer"));
        let text = std::fs::read_to_string(&path).unwrap();
        for target in reached(&path, &text) {
            match layer_of(&target) {
                Some(l) if target != module && l >= own => {
                    wrong.push(format!("{} uses app::{target}", path.display()))
                }
                _ => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against app::LAYERS:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_and_nested_imports() {
    let top = Path::new("src/app/objects.rs");
    let text = "use super::{documents, views::Page};\nuse crate::app::events;\n";
    let names = reached(top, text);
    assert!(names.contains("documents") && names.contains("views") && names.contains("events"));
    let nested = Path::new("src/app/syncs/engine.rs");
    let names = reached(nested, "use super::mapping;\nsuper::super::batches::x();\n");
    assert!(names.contains("batches") && !names.contains("mapping"));
}
