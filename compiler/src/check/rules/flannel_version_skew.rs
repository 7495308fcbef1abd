//! N0327: Linux and Windows flanneld should run the same flannel release.
//! The two images are set apart (`images { flannel; flannel-windows }`),
//! since flannel publishes no Windows image; this rule reads the release
//! from each image's `vX.Y.Z` tag and warns when they differ.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Field, Topology};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0327",
        name: "flannel-version-skew",
        severity: Severity::Warning,
        summary: "the Linux and Windows flanneld images should be of one flannel release",
        explanation: include_str!("../../../docs/codes/N0327.md"),
    },
    check,
};

/// The flannel release an image's tag names: `v0.28.9` in
/// `ghcr.io/flannel-io/flannel:v0.28.9` or `REGISTRY:5000/flannel:v0.28.9-hostprocess`
/// (a suffix after `-` is the flavour). `None` for a digest, `latest` or
/// any tag that does not start with `vX.Y.Z`: then the rule cannot tell.
pub fn flannel_release(image: &str) -> Option<(u32, u32, u32)> {
    let name = image.split('@').next()?;
    // The tag follows the last `:` after the last `/` (a registry's port
    // comes before the first `/`).
    let last = name.rsplit('/').next()?;
    let (_, tag) = last.rsplit_once(':')?;
    let version = tag.strip_prefix('v')?;
    let version = version.split(['-', '+']).next()?;
    let mut parts = version.split('.').map(|part| {
        let digits = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        part.parse::<u32>().ok().filter(|_| digits)
    });
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(major)), Some(Some(minor)), Some(Some(patch)), None) => Some((major, minor, patch)),
        _ => None,
    }
}

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let cluster = &topology.cluster;
    // Windows flanneld runs only where flanneld programs the network.
    if !topology.flanneld_runs() || !topology.has_windows() {
        return;
    }
    let (linux, windows) = (&cluster.images.flannel, &cluster.images.flannel_windows);
    let (Some(linux_release), Some(windows_release)) = (flannel_release(&linux.value), flannel_release(&windows.value))
    else {
        return;
    };
    if linux_release == windows_release {
        return;
    }
    let version = |(major, minor, patch): (u32, u32, u32)| format!("v{major}.{minor}.{patch}");
    let (linux_version, windows_version) = (version(linux_release), version(windows_release));
    let role = |field: &Field<String>, what: &str, v: &str| {
        if field.written {
            format!("{what} flanneld runs flannel {v}")
        } else {
            format!("{what} flanneld runs flannel {v} (this image is the default)")
        }
    };
    // Point at what was written: that is the value to change.
    let (primary, primary_label, secondary, secondary_label) = if windows.written || !linux.written {
        (
            windows,
            role(windows, "Windows", &windows_version),
            linux,
            role(linux, "Linux", &linux_version),
        )
    } else {
        (
            linux,
            role(linux, "Linux", &linux_version),
            windows,
            role(windows, "Windows", &windows_version),
        )
    };
    out.push(
        Diagnostic::warning(
            RULE.info.code,
            primary.span,
            format!("Linux flanneld runs flannel {linux_version} but Windows flanneld runs {windows_version}"),
        )
        .label(primary_label)
        .with_secondary(secondary.span, secondary_label)
        .help(format!(
            "run one release on both: set `flannel-windows` in `images {{ }}` to a HostProcess image of flannel {linux_version} \
             (sig-windows-tools' hostprocess/flannel/build.sh -f {linux_version} builds one), \
             or `flannel` to ghcr.io/flannel-io/flannel:{windows_version}"
        ))
        .note("Linux and Windows flanneld read each other's Node annotations to build routes and VXLAN entries"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_is_the_tags_leading_version() {
        assert_eq!(flannel_release("ghcr.io/flannel-io/flannel:v0.28.9"), Some((0, 28, 9)));
        assert_eq!(
            flannel_release("sigwindowstools/flannel:v0.21.5-hostprocess"),
            Some((0, 21, 5))
        );
        assert_eq!(
            flannel_release("registry.example:5000/team/flannel:v0.28.9-hostprocess@sha256:abc"),
            Some((0, 28, 9))
        );
        for unknown in [
            "flannel",
            "flannel:latest",
            "registry.example:5000/flannel",
            "flannel@sha256:0123",
            "flannel:v0.28",
            "flannel:v0.28.9.1",
            "flannel:0.28.9",
            "flannel:v0.28.x",
        ] {
            assert_eq!(flannel_release(unknown), None, "{unknown}");
        }
    }

    fn topology(images: &str, extra_node: &str) -> String {
        format!(
            "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n{images}}}\n\
             segment s {{\n  prefix 10.1.0.0/24\n}}\nnode m {{\n  os linux\n  address 10.1.0.10\n  role control-plane\n}}\n{extra_node}"
        )
    }

    const WINDOWS: &str = "node w {\n  os windows\n  build 20348\n  address 10.1.0.21\n}\n";

    #[test]
    fn skew_warns_and_one_release_or_unknown_tags_do_not() {
        let skewed = "  images {\n    flannel-windows \"sigwindowstools/flannel:v0.21.5-hostprocess\"\n  }\n";
        assert_eq!(super::super::codes_of(topology(skewed, WINDOWS)), ["N0327"]);
        // Without Windows nodes the Windows image is never run.
        assert_eq!(super::super::codes_of(topology(skewed, "")), Vec::<&str>::new());
        let unknown = "  images {\n    flannel-windows \"registry.example/flannel:latest\"\n  }\n";
        assert_eq!(super::super::codes_of(topology(unknown, WINDOWS)), Vec::<&str>::new());
        assert_eq!(super::super::codes_of(topology("", WINDOWS)), Vec::<&str>::new());
    }

    #[test]
    fn the_written_image_is_the_one_pointed_at() {
        let linux_written = "  images {\n    flannel \"ghcr.io/flannel-io/flannel:v0.27.0\"\n  }\n";
        let text = topology(linux_written, WINDOWS);
        let analysis = crate::analyze(&crate::diagnostic::SourceFile::new("t.netc", text.clone()));
        let d = &analysis.diagnostics[0];
        let span = d.primary.span;
        assert_eq!(
            &text[span.start as usize..span.end as usize],
            "\"ghcr.io/flannel-io/flannel:v0.27.0\""
        );
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .contains("ghcr.io/flannel-io/flannel:v0.28.9"),
            "{d:?}"
        );
    }
}
