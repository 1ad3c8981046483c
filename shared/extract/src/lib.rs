//! Feature extraction beyond passthrough: `text_extractor` and `multimodal_extractor`,
//! and the image, PDF, audio and video code they need. Only this crate links the media
//! libraries and runs the media tools (ffmpeg, ffprobe, pdftoppm, tesseract), so a
//! process that runs no batch does not carry them.

mod audio;
mod extractors;
mod tools;

use std::sync::Arc;

use sluice_core::app::extract::{Extractor, ExtractorSet};
use sluice_core::domain::extractors::ExtractorChoice;

pub use extractors::{describe_image, flatten_json, image_for_model, pdf_pages, ImageFacts};

/// Every extractor this crate has, by catalogue name and version.
pub struct Extractors;

impl Extractors {
    pub fn shared() -> Arc<dyn ExtractorSet> {
        Arc::new(Extractors)
    }
}

impl ExtractorSet for Extractors {
    fn get(&self, choice: &ExtractorChoice) -> Option<Arc<dyn Extractor>> {
        match (
            choice.feature_extractor_name.as_str(),
            choice.version.as_str(),
        ) {
            ("text_extractor", "v1") => Some(Arc::new(extractors::TextExtractor)),
            ("multimodal_extractor", "v1") => Some(Arc::new(extractors::MultimodalExtractor)),
            _ => None,
        }
    }

    fn image_for_model(&self, bytes: &[u8]) -> Result<(String, Vec<u8>), String> {
        let format = image::guess_format(bytes).map_err(|e| format!("not an image: {e}"))?;
        let img = image::load_from_memory_with_format(bytes, format)
            .map_err(|e| format!("the image cannot be decoded: {e}"))?;
        let name = format!("{format:?}").to_lowercase();
        image_for_model(bytes, &name, img.width(), img.height())
    }
}
