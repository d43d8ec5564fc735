//! The User-Data AVP payload: the IMS subscription XML document of TS 29.228 Annex D (schema in
//! Annex E, information elements in Annex B).
//!
//! The document carries the private identity and the service profiles whose public identities are
//! in the implicit registration set being served; elements appear in schema order (`tServiceProfile`:
//! PublicIdentity+, InitialFilterCriteria*; `tSePoTri`: ConditionNegated, Group+, then the
//! condition).

use crate::subscriber::{InitialFilterCriteria, ServicePointTrigger, ServiceProfile, Subscriber};
use std::fmt::Write;

/// Builds the IMSSubscription document for `subscriber`, limited to the profiles that contain one
/// of `identities` (the implicit registration set of the request), or all profiles when
/// `identities` is empty.
pub fn ims_subscription_xml(subscriber: &Subscriber, identities: &[String]) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    out.push_str("<IMSSubscription>");
    element(&mut out, "PrivateID", &subscriber.impi);
    for profile in subscriber.service_profiles.iter().filter(|p| {
        identities.is_empty()
            || p.public_identities
                .iter()
                .any(|i| identities.contains(&i.identity))
    }) {
        service_profile(&mut out, profile);
    }
    out.push_str("</IMSSubscription>");
    out
}

fn service_profile(out: &mut String, profile: &ServiceProfile) {
    out.push_str("<ServiceProfile>");
    for id in &profile.public_identities {
        out.push_str("<PublicIdentity>");
        if id.barred {
            element(out, "BarringIndication", "1");
        }
        element(out, "Identity", &id.identity);
        out.push_str("</PublicIdentity>");
    }
    // The S-CSCF evaluates iFCs in ascending priority (TS 29.228 Annex B.2.2); sending them sorted
    // keeps the document stable whatever the provisioning order.
    let mut ifcs: Vec<&InitialFilterCriteria> = profile.initial_filter_criteria.iter().collect();
    ifcs.sort_by_key(|i| i.priority);
    for ifc in ifcs {
        initial_filter_criteria(out, ifc);
    }
    out.push_str("</ServiceProfile>");
}

fn initial_filter_criteria(out: &mut String, ifc: &InitialFilterCriteria) {
    out.push_str("<InitialFilterCriteria>");
    element(out, "Priority", &ifc.priority.to_string());
    if let Some(tp) = &ifc.trigger_point {
        out.push_str("<TriggerPoint>");
        element(
            out,
            "ConditionTypeCNF",
            if tp.condition_type_cnf { "1" } else { "0" },
        );
        for spt in &tp.spt {
            service_point_trigger(out, spt);
        }
        out.push_str("</TriggerPoint>");
    }
    let a = &ifc.application_server;
    out.push_str("<ApplicationServer>");
    element(out, "ServerName", &a.server_name);
    element(
        out,
        "DefaultHandling",
        &a.default_handling.code().to_string(),
    );
    if let Some(info) = &a.service_info {
        element(out, "ServiceInfo", info);
    }
    out.push_str("</ApplicationServer>");
    if let Some(ppi) = ifc.profile_part_indicator {
        element(out, "ProfilePartIndicator", &ppi.to_string());
    }
    out.push_str("</InitialFilterCriteria>");
}

fn service_point_trigger(out: &mut String, spt: &ServicePointTrigger) {
    out.push_str("<SPT>");
    element(
        out,
        "ConditionNegated",
        if spt.condition_negated { "1" } else { "0" },
    );
    // The schema requires at least one Group; an SPT provisioned without one is in group 0.
    if spt.group.is_empty() {
        element(out, "Group", "0");
    }
    for g in &spt.group {
        element(out, "Group", &g.to_string());
    }
    if let Some(uri) = &spt.request_uri {
        element(out, "RequestURI", uri);
    }
    if let Some(m) = &spt.method {
        element(out, "Method", m);
    }
    if let Some(h) = &spt.sip_header {
        out.push_str("<SIPHeader>");
        element(out, "Header", &h.name);
        if let Some(c) = &h.content {
            element(out, "Content", c);
        }
        out.push_str("</SIPHeader>");
    }
    if let Some(sc) = spt.session_case {
        element(out, "SessionCase", &sc.code().to_string());
    }
    if let Some(d) = &spt.session_description {
        out.push_str("<SessionDescription>");
        element(out, "Line", &d.name);
        if let Some(c) = &d.content {
            element(out, "Content", c);
        }
        out.push_str("</SessionDescription>");
    }
    out.push_str("</SPT>");
}

/// Writes `<name>text</name>` with the five XML special characters escaped (XML 1.0 §2.4), so
/// identities and regular expressions from provisioning can not break the document.
fn element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>");
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    let _ = write!(out, "</{name}>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriber::tests::alice;
    use crate::subscriber::*;

    #[test]
    fn document_has_schema_order_and_escaping() {
        let mut s = alice();
        s.service_profiles[0]
            .public_identities
            .push(PublicIdentity {
                identity: "tel:+15551234".into(),
                barred: true,
            });
        s.service_profiles[0].initial_filter_criteria = vec![
            InitialFilterCriteria {
                priority: 20,
                trigger_point: None,
                application_server: ApplicationServer {
                    server_name: "sip:late.example".into(),
                    default_handling: DefaultHandling::SessionContinued,
                    service_info: None,
                },
                profile_part_indicator: None,
            },
            InitialFilterCriteria {
                priority: 10,
                trigger_point: Some(TriggerPoint {
                    condition_type_cnf: true,
                    spt: vec![
                        ServicePointTrigger {
                            method: Some("INVITE".into()),
                            ..Default::default()
                        },
                        ServicePointTrigger {
                            condition_negated: true,
                            group: vec![1],
                            sip_header: Some(HeaderCondition {
                                name: "From".into(),
                                content: Some("<sip:a&b>".into()),
                            }),
                            ..Default::default()
                        },
                    ],
                }),
                application_server: ApplicationServer {
                    server_name: "sip:as.example".into(),
                    default_handling: DefaultHandling::SessionTerminated,
                    service_info: Some("x".into()),
                },
                profile_part_indicator: Some(0),
            },
        ];
        let xml = ims_subscription_xml(&s, &[]);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><IMSSubscription><PrivateID>alice@ims.example</PrivateID><ServiceProfile><PublicIdentity><Identity>sip:alice@ims.example</Identity></PublicIdentity><PublicIdentity><BarringIndication>1</BarringIndication><Identity>tel:+15551234</Identity></PublicIdentity>"), "{xml}");
        let p10 = xml.find("<Priority>10</Priority>").unwrap();
        let p20 = xml.find("<Priority>20</Priority>").unwrap();
        assert!(p10 < p20, "sorted by priority");
        assert!(xml.contains("<SPT><ConditionNegated>0</ConditionNegated><Group>0</Group><Method>INVITE</Method></SPT>"));
        assert!(xml.contains(
            "<SIPHeader><Header>From</Header><Content>&lt;sip:a&amp;b&gt;</Content></SIPHeader>"
        ));
        assert!(xml.contains("<ApplicationServer><ServerName>sip:as.example</ServerName><DefaultHandling>1</DefaultHandling><ServiceInfo>x</ServiceInfo></ApplicationServer><ProfilePartIndicator>0</ProfilePartIndicator>"));
        assert!(xml.ends_with("</ServiceProfile></IMSSubscription>"));
    }

    #[test]
    fn only_profiles_of_the_implicit_set() {
        let mut s = alice();
        s.service_profiles.push(ServiceProfile {
            public_identities: vec![PublicIdentity {
                identity: "sip:alice.work@ims.example".into(),
                barred: false,
            }],
            initial_filter_criteria: vec![],
        });
        let xml = ims_subscription_xml(&s, &["sip:alice.work@ims.example".to_string()]);
        assert!(xml.contains("alice.work"));
        assert!(!xml.contains("<Identity>sip:alice@ims.example</Identity>"));
        assert_eq!(
            ims_subscription_xml(&s, &[])
                .matches("<ServiceProfile>")
                .count(),
            2
        );
    }
}
