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
fn every_template_route_block_has_its_event_and_policy() {
    for route in sluice_api::ROUTES {
        let block = xtask::template_block(route);
        assert!(block.contains(&format!("Binary: {}\n", route.function)));
        assert!(block.contains(&format!("Method: {}\n", route.method)));
        assert!(block.contains(&format!("Path: {}\n", route.path)));
        assert_eq!(
            block.contains("Policies:"),
            !route.permissions.is_empty(),
            "{route:?}"
        );
        assert_eq!(block.contains("ModelsLayer"), route.embeds, "{route:?}");
    }
}
