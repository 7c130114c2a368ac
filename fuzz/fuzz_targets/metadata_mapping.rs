//! Any JSON as an Author API metadata reply: matching never panics, and the links it produces make a gallery
//! whose operations, once applied, leave nothing to do.
#![no_main]

use domain::gallery::{apply_operations, compute_gallery, reconcile};
use domain::metadata::{AssetMetadata, Evaluation, evaluate};
use domain::MatchSettings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(metadata) = serde_json::from_slice::<AssetMetadata>(data) else { return };
    if let Evaluation::Eligible { links, .. } = evaluate(&metadata, &MatchSettings::default()) {
        for link in &links {
            let gallery = compute_gallery(std::slice::from_ref(link));
            let ops = reconcile(&gallery, &[]);
            let applied = apply_operations(&[], &ops);
            assert!(reconcile(&gallery, &applied).is_empty());
        }
    }
});
