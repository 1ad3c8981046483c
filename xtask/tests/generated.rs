//! The committed binaries and template blocks are what the route table implies.

#[test]
fn generated_files_match_the_route_table() {
    let drift = xtask::drift(&xtask::workspace_root()).unwrap();
    assert!(
        drift.is_empty(),
        "these differ from what `cargo xtask routes` writes (run it): {drift:?}"
    );
}

#[test]
fn every_route_block_has_its_api_route_permission_and_policy() {
    for route in sluice_api::ROUTES.iter() {
        let block = xtask::template_block(route);
        assert!(block.contains(&format!("Binary: {}\n", route.function())));
        assert!(block.contains(&format!("RouteKey: {} {}\n", route.method, route.path)));
        assert!(block.contains("Principal: apigateway.amazonaws.com\n"));
        assert_eq!(
            block.contains("Policies:"),
            !route.permissions.is_empty(),
            "{route:?}"
        );
        assert_eq!(block.contains("ModelsLayerArn"), route.embeds, "{route:?}");
    }
}

/// Every `SLUICE_*` variable the code names is in docs/configuration.md.
#[test]
fn the_configuration_reference_lists_every_variable_the_code_reads() {
    let root = xtask::workspace_root();
    let doc = std::fs::read_to_string(root.join(xtask::CONFIGURATION_PATH)).unwrap();
    let mut missing = std::collections::BTreeSet::new();
    let mut dirs = vec![root.join("shared"), root.join("functions")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !path.ends_with("tests") && !path.ends_with("target") {
                    dirs.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (at, _) in code.match_indices("\"SLUICE_") {
                let name: String = code[at + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                let queue = name.ends_with("_QUEUE_URL") || name == "SLUICE_";
                // `"SLUICE_URL={}"` is printed for scripts, not read.
                let printed = code[at + 1 + name.len()..].starts_with('=');
                if !queue && !printed && !doc.contains(&format!("`{name}`")) {
                    missing.insert(format!("{name} ({})", path.display()));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in {}: {missing:?}",
        xtask::CONFIGURATION_PATH
    );
}
