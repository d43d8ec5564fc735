//! The User-Data of a Cx Server-Assignment-Answer: the IMS subscription document of
//! 3GPP TS 29.228 Annex D/E (information elements in Annex B).
//!
//! A deliberately small XML reader: elements, text, the five predefined entities and numeric
//! character references, comments, processing instructions, a DOCTYPE and CDATA sections.
//! Attributes are skipped (the subscription schema carries none the S-CSCF needs), namespace
//! prefixes are dropped, and unknown elements are ignored wherever they appear, so extensions
//! (`<Extension>`, later releases' elements) never break registration. Bounded in depth so a
//! hostile document cannot exhaust the stack.

use std::fmt;

/// Nesting deeper than this is refused: the schema needs 7 levels (SPT inside TriggerPoint ...).
const MAX_DEPTH: usize = 32;

/// Why a User-Data document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserDataError {
    /// Not well-formed XML (unclosed tag, mismatched end tag, bad entity ...), with the offset.
    #[error("malformed XML at byte {offset}: {what}")]
    Malformed {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// Nesting deeper than the 32 levels this reader accepts.
    #[error("XML nested too deeply")]
    TooDeep,
    /// The root is not `IMSSubscription`.
    #[error("root element is {0}, not IMSSubscription")]
    WrongRoot(String),
    /// A required element is missing or a number is malformed.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// `tIMSSubscription` (TS 29.228 Annex E): the private identity and its service profiles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImsSubscription {
    /// `PrivateID`.
    pub private_id: Option<String>,
    /// `ServiceProfile`s, one per implicit registration set member group.
    pub service_profiles: Vec<ServiceProfile>,
}

/// `tServiceProfile`: public identities sharing one profile, and its initial filter criteria.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceProfile {
    /// `PublicIdentity`+.
    pub public_identities: Vec<PublicIdentity>,
    /// `InitialFilterCriteria`*, sorted by ascending `Priority` (TS 29.228 Annex B.2.2).
    pub initial_filter_criteria: Vec<InitialFilterCriteria>,
}

/// `tPublicIdentity` (TS 29.228 Annex B.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublicIdentity {
    /// `Identity`: a SIP or tel URI.
    pub identity: String,
    /// `BarringIndication`: a barred identity may not be used for sessions (TS 23.228 §4.3.3.1).
    pub barred: bool,
    /// `IdentityType` (0 public user identity, 1 distinct PSI, 2 wildcarded PSI, ...).
    pub identity_type: Option<u32>,
    /// `DisplayName`.
    pub display_name: Option<String>,
}

/// `tInitialFilterCriteria` (TS 29.228 Annex B.2.2). Evaluated by the ISC procedures, not here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InitialFilterCriteria {
    /// `Priority`: lower values are evaluated first.
    pub priority: i32,
    /// `TriggerPoint`; absent means "always matches" (unconditional).
    pub trigger_point: Option<TriggerPoint>,
    /// `ApplicationServer`.
    pub application_server: ApplicationServer,
    /// `ProfilePartIndicator` (0 REGISTERED, 1 UNREGISTERED); absent means both.
    pub profile_part_indicator: Option<u32>,
}

/// `tTrigger`: SPTs combined in CNF (`ConditionTypeCNF` = 1) or DNF.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TriggerPoint {
    /// Conjunctive normal form when true, disjunctive otherwise.
    pub condition_type_cnf: bool,
    /// `SPT`s.
    pub spts: Vec<ServicePointTrigger>,
}

/// `tSePoTri`: one service point trigger.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServicePointTrigger {
    /// `ConditionNegated`.
    pub condition_negated: bool,
    /// `Group`s this SPT belongs to.
    pub groups: Vec<u32>,
    /// The condition.
    pub condition: SptCondition,
}

/// The single condition of an SPT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SptCondition {
    /// `RequestURI`.
    RequestUri(String),
    /// `Method`.
    Method(String),
    /// `SIPHeader`: header name and optional content regex.
    SipHeader {
        /// `Header`.
        header: String,
        /// `Content`.
        content: Option<String>,
    },
    /// `SessionCase` (0 ORIGINATING, 1 TERMINATING_REGISTERED, 2 TERMINATING_UNREGISTERED, ...).
    SessionCase(u32),
    /// `SessionDescription`: SDP line and optional content.
    SessionDescription {
        /// `Line`.
        line: String,
        /// `Content`.
        content: Option<String>,
    },
    /// A condition element this reader does not know (kept by name).
    #[default]
    Unknown,
}

/// `tApplicationServer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplicationServer {
    /// `ServerName`: the AS SIP URI.
    pub server_name: String,
    /// `DefaultHandling`: 0 SESSION_CONTINUED, 1 SESSION_TERMINATED.
    pub default_handling: u32,
    /// `ServiceInfo`.
    pub service_info: Option<String>,
}

impl ImsSubscription {
    /// Parses the document (UTF-8 text of the User-Data AVP).
    pub fn parse(xml: &str) -> Result<Self, UserDataError> {
        let root = parse_tree(xml)?;
        if root.name != "IMSSubscription" {
            return Err(UserDataError::WrongRoot(root.name));
        }
        Ok(ImsSubscription {
            private_id: root.child_text("PrivateID"),
            service_profiles: root
                .children_named("ServiceProfile")
                .map(service_profile)
                .collect::<Result<_, _>>()?,
        })
    }

    /// Every public identity of every service profile: the implicit registration set the HSS
    /// sends in the SAA (TS 29.228 §6.1.2), in document order.
    pub fn public_identities(&self) -> impl Iterator<Item = &PublicIdentity> {
        self.service_profiles
            .iter()
            .flat_map(|p| p.public_identities.iter())
    }

    /// The service profile holding `identity` (compared by [`crate::identity::impu_key`]).
    pub fn profile_of(&self, identity: &str) -> Option<&ServiceProfile> {
        let key = crate::identity::impu_key_str(identity);
        self.service_profiles.iter().find(|p| {
            p.public_identities
                .iter()
                .any(|i| crate::identity::impu_key_str(&i.identity) == key)
        })
    }
}

fn service_profile(e: &Element) -> Result<ServiceProfile, UserDataError> {
    let public_identities = e
        .children_named("PublicIdentity")
        .map(|p| {
            let identity = p
                .child_text("Identity")
                .ok_or(UserDataError::Invalid("PublicIdentity/Identity"))?;
            Ok(PublicIdentity {
                identity,
                barred: p.child_flag("BarringIndication")?,
                identity_type: p.child_number("IdentityType")?,
                display_name: p.child_text("DisplayName"),
            })
        })
        .collect::<Result<Vec<_>, UserDataError>>()?;
    if public_identities.is_empty() {
        return Err(UserDataError::Invalid(
            "ServiceProfile without PublicIdentity",
        ));
    }
    let mut ifcs = e
        .children_named("InitialFilterCriteria")
        .map(initial_filter_criteria)
        .collect::<Result<Vec<_>, _>>()?;
    ifcs.sort_by_key(|i| i.priority);
    Ok(ServiceProfile {
        public_identities,
        initial_filter_criteria: ifcs,
    })
}

fn initial_filter_criteria(e: &Element) -> Result<InitialFilterCriteria, UserDataError> {
    let priority = e
        .child_text("Priority")
        .and_then(|p| p.trim().parse().ok())
        .ok_or(UserDataError::Invalid("InitialFilterCriteria/Priority"))?;
    let trigger_point = e
        .child("TriggerPoint")
        .map(|tp| -> Result<TriggerPoint, UserDataError> {
            Ok(TriggerPoint {
                condition_type_cnf: tp.child_flag("ConditionTypeCNF")?,
                spts: tp
                    .children_named("SPT")
                    .map(service_point_trigger)
                    .collect::<Result<_, _>>()?,
            })
        })
        .transpose()?;
    let as_el = e.child("ApplicationServer").ok_or(UserDataError::Invalid(
        "InitialFilterCriteria/ApplicationServer",
    ))?;
    let application_server = ApplicationServer {
        server_name: as_el
            .child_text("ServerName")
            .ok_or(UserDataError::Invalid("ApplicationServer/ServerName"))?,
        default_handling: as_el.child_number("DefaultHandling")?.unwrap_or(0),
        service_info: as_el.child_text("ServiceInfo"),
    };
    Ok(InitialFilterCriteria {
        priority,
        trigger_point,
        application_server,
        profile_part_indicator: e.child_number("ProfilePartIndicator")?,
    })
}

fn service_point_trigger(e: &Element) -> Result<ServicePointTrigger, UserDataError> {
    let groups = e
        .children_named("Group")
        .map(|g| {
            g.text
                .trim()
                .parse()
                .map_err(|_| UserDataError::Invalid("SPT/Group"))
        })
        .collect::<Result<_, _>>()?;
    let condition = if let Some(t) = e.child_text("RequestURI") {
        SptCondition::RequestUri(t)
    } else if let Some(t) = e.child_text("Method") {
        SptCondition::Method(t)
    } else if let Some(h) = e.child("SIPHeader") {
        SptCondition::SipHeader {
            header: h
                .child_text("Header")
                .ok_or(UserDataError::Invalid("SIPHeader/Header"))?,
            content: h.child_text("Content"),
        }
    } else if let Some(n) = e.child_number("SessionCase")? {
        SptCondition::SessionCase(n)
    } else if let Some(d) = e.child("SessionDescription") {
        SptCondition::SessionDescription {
            line: d
                .child_text("Line")
                .ok_or(UserDataError::Invalid("SessionDescription/Line"))?,
            content: d.child_text("Content"),
        }
    } else {
        SptCondition::Unknown
    };
    Ok(ServicePointTrigger {
        condition_negated: e.child_flag("ConditionNegated")?,
        groups,
        condition,
    })
}

// ---------------------------------------------------------------------------
// The XML reader
// ---------------------------------------------------------------------------

/// One element: local name, children and concatenated character data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Element {
    name: String,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(|c| c.text.trim().to_owned())
    }

    fn child_number(&self, name: &str) -> Result<Option<u32>, UserDataError> {
        self.child(name)
            .map(|c| {
                c.text
                    .trim()
                    .parse()
                    .map_err(|_| UserDataError::Invalid("number"))
            })
            .transpose()
    }

    /// A `tBool` (`0`/`1`, `false`/`true`); absent is false.
    fn child_flag(&self, name: &str) -> Result<bool, UserDataError> {
        match self.child(name).map(|c| c.text.trim()) {
            None | Some("0") | Some("false") => Ok(false),
            Some("1") | Some("true") => Ok(true),
            Some(_) => Err(UserDataError::Invalid("boolean")),
        }
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.name)
    }
}

fn malformed(offset: usize, what: &'static str) -> UserDataError {
    UserDataError::Malformed { offset, what }
}

/// Parses `xml` into its root element.
fn parse_tree(xml: &str) -> Result<Element, UserDataError> {
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut pos = 0;
    while pos < xml.len() {
        let rest = xml.get(pos..).unwrap_or("");
        if let Some(after) = rest.strip_prefix("<?") {
            pos += 2 + after.find("?>").ok_or(malformed(pos, "unterminated <?"))? + 2;
        } else if let Some(after) = rest.strip_prefix("<!--") {
            pos += 4
                + after
                    .find("-->")
                    .ok_or(malformed(pos, "unterminated comment"))?
                + 3;
        } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after
                .find("]]>")
                .ok_or(malformed(pos, "unterminated CDATA"))?;
            let top = stack
                .last_mut()
                .ok_or(malformed(pos, "CDATA outside root"))?;
            top.text.push_str(after.get(..end).unwrap_or(""));
            pos += 9 + end + 3;
        } else if let Some(after) = rest.strip_prefix("<!") {
            // DOCTYPE: no internal subset support; skip to the first '>'.
            pos += 2 + after.find('>').ok_or(malformed(pos, "unterminated <!"))? + 1;
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after
                .find('>')
                .ok_or(malformed(pos, "unterminated end tag"))?;
            let name = local_name(after.get(..end).unwrap_or("").trim());
            let el = stack.pop().ok_or(malformed(pos, "end tag without start"))?;
            if el.name != name {
                return Err(malformed(pos, "mismatched end tag"));
            }
            close(&mut stack, &mut root, el, pos)?;
            pos += 2 + end + 1;
        } else if let Some(after) = rest.strip_prefix('<') {
            let end = tag_end(after).ok_or(malformed(pos, "unterminated start tag"))?;
            let inner = after.get(..end).unwrap_or("");
            let (inner, empty) = match inner.strip_suffix('/') {
                Some(i) => (i, true),
                None => (inner, false),
            };
            let raw_name = inner
                .split(|c: char| c.is_ascii_whitespace())
                .next()
                .unwrap_or("");
            if raw_name.is_empty() {
                return Err(malformed(pos, "empty tag name"));
            }
            if root.is_some() {
                return Err(malformed(pos, "content after the root element"));
            }
            let el = Element {
                name: local_name(raw_name).to_owned(),
                ..Element::default()
            };
            if empty {
                close(&mut stack, &mut root, el, pos)?;
            } else {
                if stack.len() >= MAX_DEPTH {
                    return Err(UserDataError::TooDeep);
                }
                stack.push(el);
            }
            pos += 1 + end + 1;
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = rest.get(..end).unwrap_or("");
            match stack.last_mut() {
                Some(top) => unescape_into(text, &mut top.text, pos)?,
                None if text.trim().is_empty() => {}
                None => return Err(malformed(pos, "text outside the root element")),
            }
            pos += end;
        }
    }
    if !stack.is_empty() {
        return Err(malformed(xml.len(), "unclosed element"));
    }
    root.ok_or(malformed(0, "no root element"))
}

/// Attaches a finished element to its parent, or makes it the root.
fn close(
    stack: &mut [Element],
    root: &mut Option<Element>,
    el: Element,
    pos: usize,
) -> Result<(), UserDataError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => return Err(malformed(pos, "second root element")),
    }
    Ok(())
}

/// Offset of the `>` closing a start tag, skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, b) in s.bytes().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// `prefix:Name` -> `Name`.
fn local_name(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Appends `text` with entity and character references replaced.
fn unescape_into(text: &str, out: &mut String, base: usize) -> Result<(), UserDataError> {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or(""));
        let after = rest.get(amp + 1..).unwrap_or("");
        let semi = after
            .find(';')
            .ok_or(malformed(base + amp, "unterminated entity"))?;
        let entity = after.get(..semi).unwrap_or("");
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or(malformed(base + amp, "unknown entity"))?
            }
        };
        out.push(c);
        rest = after.get(semi + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- from the HSS -->
<IMSSubscription xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <PrivateID>alice@ims.example</PrivateID>
  <ServiceProfile>
    <PublicIdentity><Identity>sip:alice@ims.example</Identity></PublicIdentity>
    <PublicIdentity><BarringIndication>1</BarringIndication><Identity>sip:alice-barred@ims.example</Identity></PublicIdentity>
    <PublicIdentity><Identity>tel:+15551234</Identity><DisplayName>Alice &amp; Co</DisplayName><Extension><Unknown>x</Unknown></Extension></PublicIdentity>
    <InitialFilterCriteria>
      <Priority>20</Priority>
      <ApplicationServer><ServerName>sip:as2.ims.example</ServerName><DefaultHandling>1</DefaultHandling></ApplicationServer>
    </InitialFilterCriteria>
    <InitialFilterCriteria>
      <Priority>10</Priority>
      <TriggerPoint><ConditionTypeCNF>0</ConditionTypeCNF>
        <SPT><ConditionNegated>0</ConditionNegated><Group>0</Group><Method>INVITE</Method></SPT>
        <SPT><ConditionNegated>1</ConditionNegated><Group>0</Group><Group>1</Group><SIPHeader><Header>Subject</Header><Content><![CDATA[a<b]]></Content></SIPHeader></SPT>
        <SPT><Group>1</Group><SessionCase>1</SessionCase></SPT>
      </TriggerPoint>
      <ApplicationServer><ServerName>sip:as1.ims.example</ServerName><DefaultHandling>0</DefaultHandling><ServiceInfo>mmtel</ServiceInfo></ApplicationServer>
      <ProfilePartIndicator>0</ProfilePartIndicator>
    </InitialFilterCriteria>
  </ServiceProfile>
  <ServiceProfile><PublicIdentity><Identity>sip:alice-work@ims.example</Identity></PublicIdentity></ServiceProfile>
</IMSSubscription>"#;

    #[test]
    fn parses_identities_barring_and_ifcs() {
        let s = ImsSubscription::parse(DOC).unwrap();
        assert_eq!(s.private_id.as_deref(), Some("alice@ims.example"));
        let ids: Vec<(&str, bool)> = s
            .public_identities()
            .map(|p| (p.identity.as_str(), p.barred))
            .collect();
        assert_eq!(
            ids,
            [
                ("sip:alice@ims.example", false),
                ("sip:alice-barred@ims.example", true),
                ("tel:+15551234", false),
                ("sip:alice-work@ims.example", false)
            ]
        );
        let p = &s.service_profiles[0];
        assert_eq!(
            p.public_identities[2].display_name.as_deref(),
            Some("Alice & Co")
        );
        // Sorted by priority.
        assert_eq!(p.initial_filter_criteria[0].priority, 10);
        let ifc = &p.initial_filter_criteria[0];
        assert_eq!(ifc.application_server.server_name, "sip:as1.ims.example");
        assert_eq!(
            ifc.application_server.service_info.as_deref(),
            Some("mmtel")
        );
        assert_eq!(ifc.profile_part_indicator, Some(0));
        let tp = ifc.trigger_point.as_ref().unwrap();
        assert!(!tp.condition_type_cnf);
        assert_eq!(tp.spts.len(), 3);
        assert_eq!(tp.spts[0].condition, SptCondition::Method("INVITE".into()));
        assert!(tp.spts[1].condition_negated);
        assert_eq!(tp.spts[1].groups, [0, 1]);
        assert_eq!(
            tp.spts[1].condition,
            SptCondition::SipHeader {
                header: "Subject".into(),
                content: Some("a<b".into())
            }
        );
        assert_eq!(tp.spts[2].condition, SptCondition::SessionCase(1));
        assert_eq!(
            p.initial_filter_criteria[1]
                .application_server
                .default_handling,
            1
        );
        assert!(s.profile_of("sip:alice-work@ims.example").is_some());
        assert!(s.profile_of("sip:bob@ims.example").is_none());
    }

    #[test]
    fn rejects_malformed_documents() {
        assert!(matches!(
            ImsSubscription::parse("<IMSSubscription><PrivateID>x</Private></IMSSubscription>"),
            Err(UserDataError::Malformed { .. })
        ));
        assert!(matches!(
            ImsSubscription::parse("<IMSSubscription>"),
            Err(UserDataError::Malformed { .. })
        ));
        assert_eq!(
            ImsSubscription::parse("<Other/>"),
            Err(UserDataError::WrongRoot("Other".into()))
        );
        assert!(matches!(
            ImsSubscription::parse("<IMSSubscription>&bogus;</IMSSubscription>"),
            Err(UserDataError::Malformed { .. })
        ));
        assert_eq!(
            ImsSubscription::parse(
                "<IMSSubscription><ServiceProfile></ServiceProfile></IMSSubscription>"
            ),
            Err(UserDataError::Invalid(
                "ServiceProfile without PublicIdentity"
            ))
        );
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(ImsSubscription::parse(&deep), Err(UserDataError::TooDeep));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for (i, _) in DOC.char_indices().skip(1) {
            assert!(
                ImsSubscription::parse(&DOC[..i]).is_err(),
                "prefix of {i} bytes"
            );
        }
        assert!(ImsSubscription::parse(DOC).is_ok());
    }

    #[test]
    fn namespace_prefixes_and_attributes_are_tolerated() {
        let s = ImsSubscription::parse(
            "<ns:IMSSubscription a='x>y'><ns:ServiceProfile><ns:PublicIdentity b=\"1\"><ns:Identity>sip:a@b</ns:Identity></ns:PublicIdentity></ns:ServiceProfile></ns:IMSSubscription>",
        )
        .unwrap();
        assert_eq!(s.public_identities().next().unwrap().identity, "sip:a@b");
    }
}
