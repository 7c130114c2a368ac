//! What a sink is handed: the gallery the claims ask for, presented under the configuration in force.

use crate::{Engine, view_of};
use domain::config::IntegrationConfig;

impl Engine {
    /// The gallery `claims` and the `manual` links ask for (`domain::manual::desired_gallery`), as `config`
    /// presents it to a sink: the metadata's entries hidden under the owner `commerce`, each video with its
    /// player URL (`<base>/play`, the custom domain applied when one is set).
    pub(crate) fn desired_gallery(
        &self,
        config: &IntegrationConfig,
        claims: &[domain::DesiredLink],
        manual: &[domain::manual::ManualLink],
    ) -> Vec<domain::GalleryEntry> {
        let view = view_of(config, &self.settings.delivery_origin);
        let mut gallery = domain::manual::desired_gallery(claims, manual, view.hidden);
        for entry in &mut gallery {
            if entry.media_type == domain::MediaType::Video {
                // A claim stored before videos carried their facts has none: an empty title and description.
                let video = entry.video.get_or_insert_with(domain::Video::default);
                video.url =
                    domain::urls::play_url(&domain::urls::base_url(&view.origin, &entry.asset_id));
            }
        }
        gallery
    }
}
