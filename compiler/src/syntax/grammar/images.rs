//! The `images { }` block inside `cluster`: the image of each container
//! netc's manifests run, when not the default.

use super::{setting_keys, Lowering, SettingSpec};
use crate::diagnostic::Spanned;
use crate::syntax::ast::ImagesDecl;
use crate::syntax::cst::{Block, Setting};

/// Every setting of an `images` block: one per image, all read alike.
const SETTINGS: &[SettingSpec<ImagesDecl>] = &[
    SettingSpec {
        key: "flannel",
        example: "flannel \"REGISTRY/IMAGE:TAG\"",
        parse: |lowering, s, example, images| lowering.image(s, example, &mut images.flannel),
    },
    SettingSpec {
        key: "flannel-cni-plugin",
        example: "flannel-cni-plugin \"REGISTRY/IMAGE:TAG\"",
        parse: |lowering, s, example, images| lowering.image(s, example, &mut images.flannel_cni_plugin),
    },
    SettingSpec {
        key: "flannel-windows",
        example: "flannel-windows \"REGISTRY/IMAGE:TAG\"",
        parse: |lowering, s, example, images| lowering.image(s, example, &mut images.flannel_windows),
    },
    SettingSpec {
        key: "kube-proxy-windows",
        example: "kube-proxy-windows \"REGISTRY/IMAGE:TAG\"",
        parse: |lowering, s, example, images| lowering.image(s, example, &mut images.kube_proxy_windows),
    },
];

/// The images netc's manifests run, one setting each, in the order help
/// texts list them.
pub const IMAGES_KEYS: &[&str] = &setting_keys::<{ SETTINGS.len() }, _>(SETTINGS);

impl Lowering<'_> {
    pub(super) fn images(&mut self, block: &Block) -> ImagesDecl {
        let mut images = ImagesDecl {
            header: block.header,
            flannel: None,
            flannel_cni_plugin: None,
            flannel_windows: None,
            kube_proxy_windows: None,
        };
        for s in self.settings_of(block, "images") {
            // Like `windows`, no attempted keys: every image has a default.
            self.read_setting(s, "images", SETTINGS, &mut images);
        }
        images
    }

    /// One image setting into its slot.
    fn image(&mut self, s: &Setting, example: &str, slot: &mut Option<Spanned<String>>) {
        let v = &mut self.values;
        let value = v.single(s, example).and_then(|a| v.image(a));
        self.assign(slot, &s.key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::BASE;
    use crate::diagnostic::SourceFile;

    #[test]
    fn the_images_block_takes_its_four_images_once() {
        let with = |images: &str| {
            let cluster = BASE.replace("}\nsegment", &format!("{images}}}\nsegment"));
            crate::analyze(&SourceFile::new("t.netc", cluster))
                .diagnostics
                .into_iter()
                .map(|d| (d.code, d.message))
                .collect::<Vec<_>>()
        };
        assert_eq!(with("  images {\n    flannel \"f:v0.28.9\"\n  }\n"), vec![]);
        assert_eq!(
            with("  images {\n    flanel \"f:v0.28.9\"\n  }\n"),
            vec![("N0104", "unknown setting `flanel` in `images`".to_string())]
        );
        assert_eq!(
            with("  images {\n    flannel \"f v0.28.9\"\n  }\n"),
            vec![("N0105", "`f v0.28.9` is not an image reference".to_string())]
        );
        assert_eq!(
            with("  images {\n  }\n  images {\n  }\n"),
            vec![("N0106", "`images` is set twice".to_string())]
        );
        assert_eq!(with("  images flannel\n")[0].0, "N0108");
    }
}
