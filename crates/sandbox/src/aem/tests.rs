use super::renditions::{PIXEL_PNG, crc32, rendition_png};

#[test]
fn renditions_are_valid_pngs_of_20_to_50_kb() {
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    for id in ["urn:aaid:aem:1", "urn:aaid:aem:2", "urn:aaid:aem:xyz"] {
        let png = rendition_png(id);
        assert!(
            (20 * 1024..=50 * 1024).contains(&png.len()),
            "{}",
            png.len()
        );
        assert_eq!(
            png,
            rendition_png(id),
            "the same asset gives the same bytes"
        );
        assert_eq!(&png[..33], &PIXEL_PNG[..33]);
        assert!(png.ends_with(&PIXEL_PNG[33..]));
        let length = u32::from_be_bytes([png[33], png[34], png[35], png[36]]) as usize;
        let typed = &png[37..41 + length];
        let crc = &png[41 + length..45 + length];
        assert_eq!(&typed[..4], b"tEXt");
        assert_eq!(crc, crc32(typed).to_be_bytes());
    }
    assert_ne!(
        rendition_png("urn:aaid:aem:1").len(),
        rendition_png("urn:aaid:aem:2").len()
    );
}
