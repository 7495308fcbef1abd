//! N0324: flannel's ipsec backend needs a pre-shared key (`PSK`) of at least
//! 96 characters; without one flanneld refuses to start.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Topology, IPSEC_PSK_MIN_LEN};

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0324",
        name: "ipsec-psk",
        severity: Severity::Error,
        summary: "backend ipsec needs a `psk` of at least 96 characters",
        explanation: include_str!("../../../docs/codes/N0324.md"),
    },
    check,
};

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let backend = &topology.cluster.backend;
    let Some(ipsec) = &backend.ipsec else {
        return;
    };
    let Some(psk) = &ipsec.psk else {
        if ipsec.psk_attempted {
            // The `psk` line is there but unreadable; that is reported already.
            return;
        }
        out.push(
            Diagnostic::error(
                RULE.info.code,
                backend.kind.span,
                "flannel's `ipsec` backend needs a pre-shared key, but `psk` is not set",
            )
            .label("no `psk` for this backend")
            .help(format!(
                "write `backend ipsec {{ psk \"...\" }}` with a random key of at least {IPSEC_PSK_MIN_LEN} characters, such as the output of `openssl rand -hex 48`"
            )),
        );
        return;
    };
    // Counted in characters, as the net-conf schema counts `minLength`; a
    // key of multi-byte characters is no shorter in bytes.
    let length = psk.value.chars().count();
    if length >= IPSEC_PSK_MIN_LEN {
        return;
    }
    // The key itself stays out of the message: reports end up in CI logs.
    out.push(
        Diagnostic::error(
            RULE.info.code,
            psk.span,
            format!(
                "the ipsec pre-shared key has {length} characters, fewer than the {IPSEC_PSK_MIN_LEN} flannel requires"
            ),
        )
        .label(format!("{length} characters"))
        .help(format!(
            "use a random key of at least {IPSEC_PSK_MIN_LEN} characters, such as the output of `openssl rand -hex 48`"
        )),
    );
}

#[cfg(test)]
mod tests {

    fn codes(backend: &str) -> Vec<&'static str> {
        let text = format!(
            "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  {backend}\n}}\n\
             segment s {{\n  prefix 10.1.0.0/24\n}}\nnode a {{\n  os linux\n  address 10.1.0.10\n}}\n"
        );
        crate::check::rules::codes_of(text)
    }

    #[test]
    fn a_key_needs_96_characters() {
        assert_eq!(codes("backend ipsec"), ["N0324"]);
        assert_eq!(codes("backend ipsec { udp-encap on }"), ["N0324"]);
        let short = "k".repeat(95);
        assert_eq!(codes(&format!("backend ipsec {{ psk \"{short}\" }}")), ["N0324"]);
        let long = "k".repeat(96);
        assert_eq!(
            codes(&format!("backend ipsec {{ psk \"{long}\" }}")),
            Vec::<&str>::new()
        );
        assert_eq!(codes("backend wireguard"), Vec::<&str>::new());
    }

    #[test]
    fn an_unreadable_or_misspelt_key_is_reported_once() {
        assert_eq!(codes("backend ipsec { psk \"\" }"), ["N0105"]);
        assert_eq!(codes("backend ipsec { pks \"abc\" }"), ["N0104"]);
    }
}
