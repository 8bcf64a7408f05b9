//! Placement constraints (`node.labels.zone==east`): parsing with swarmkit's error texts and
//! matching against a node.
//!
//! Facts follow `swarmkit/manager/constraint`: only `==` and `!=` exist (tried in that order),
//! keys and values are validated with the same character classes, keys are matched
//! case-insensitively, label names case-sensitively, values case-insensitively, a missing label
//! compares as `""`, and an unknown key never matches.

use std::collections::BTreeMap;
use std::net::IpAddr;

use shoal_types::Node;

/// Why a constraint expression was rejected; the texts are swarmkit's, so the API layer can
/// return them verbatim when it validates a service spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// The expression contains neither `==` nor `!=`.
    #[error("constraint expected one operator from ==, !=")]
    NoOperator,
    /// The left-hand side is not `[A-Za-z_][A-Za-z0-9-_.]+`.
    #[error("key '{0}' is invalid")]
    InvalidKey(String),
    /// The right-hand side is empty or holds a character swarmkit reserves for operators.
    #[error("value '{0}' is invalid")]
    InvalidValue(String),
}

/// The comparison of a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `==`: the attribute must equal the value.
    Eq,
    /// `!=`: the attribute must differ from the value.
    Ne,
}

/// The node attribute a constraint reads, resolved once at parse time so matching a node does
/// no string work on the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Attribute {
    Id,
    Hostname,
    Ip(IpPattern),
    Role,
    Os,
    Arch,
    NodeLabel(String),
    EngineLabel(String),
    Unknown,
}

/// The value of a `node.ip` constraint: an address, a CIDR subnet, or neither (never matches).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IpPattern {
    Addr(IpAddr),
    Subnet(IpAddr, u8),
    Malformed,
}

/// One parsed constraint expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    key: String,
    operator: Operator,
    value: String,
    attribute: Attribute,
}

const NODE_LABEL_PREFIX: &str = "node.labels.";
const ENGINE_LABEL_PREFIX: &str = "engine.labels.";

impl Constraint {
    /// The key as written (whitespace trimmed), e.g. `node.labels.zone`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The value as written (whitespace trimmed).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether `node` satisfies this constraint.
    pub fn matches(&self, node: &Node) -> bool {
        self.matches_attrs(node)
    }

    pub(crate) fn matches_attrs<N: NodeAttrs + ?Sized>(&self, node: &N) -> bool {
        match &self.attribute {
            Attribute::Id => self.compare(node.id()),
            Attribute::Hostname => self.compare(node.hostname()),
            Attribute::Ip(pattern) => self.compare_ip(pattern, node.addr()),
            Attribute::Role => self.compare(node.role()),
            Attribute::Os => self.compare(node.os()),
            Attribute::Arch => self.compare(node.arch()),
            Attribute::NodeLabel(k) => self.compare(label(node.node_labels(), k)),
            Attribute::EngineLabel(k) => self.compare(label(node.engine_labels(), k)),
            Attribute::Unknown => false,
        }
    }

    fn compare(&self, actual: &str) -> bool {
        let equal = equal_fold(&self.value, actual);
        equal == (self.operator == Operator::Eq)
    }

    fn compare_ip(&self, pattern: &IpPattern, node: Option<IpAddr>) -> bool {
        // A node without a parsable address equals nothing, so only `!=` can hold for it.
        let hit = match (pattern, node) {
            (IpPattern::Malformed, _) => return false,
            (_, None) => false,
            (IpPattern::Addr(want), Some(have)) => want.to_canonical() == have.to_canonical(),
            (IpPattern::Subnet(net, bits), Some(have)) => subnet_contains(*net, *bits, have),
        };
        hit == (self.operator == Operator::Eq)
    }
}

/// Whether `node` satisfies every constraint (an empty list always holds).
pub fn matches_all(constraints: &[Constraint], node: &Node) -> bool {
    constraints.iter().all(|c| c.matches(node))
}

/// Parses placement constraint expressions, stopping at the first invalid one.
pub fn parse_constraints(exprs: &[String]) -> Result<Vec<Constraint>, ConstraintError> {
    exprs.iter().map(|e| parse_one(e)).collect()
}

fn parse_one(expr: &str) -> Result<Constraint, ConstraintError> {
    // swarmkit tries the operators in this order, so `a!=b==c` splits at `==`.
    let (op_text, operator) = [("==", Operator::Eq), ("!=", Operator::Ne)]
        .into_iter()
        .find(|(op, _)| expr.contains(op))
        .ok_or(ConstraintError::NoOperator)?;
    let (lhs, rhs) = expr
        .split_once(op_text)
        .ok_or(ConstraintError::NoOperator)?;
    let key = lhs.trim();
    if !valid_key(key) {
        return Err(ConstraintError::InvalidKey(key.to_string()));
    }
    let value = rhs.trim();
    if !valid_value(value) {
        return Err(ConstraintError::InvalidValue(value.to_string()));
    }
    Ok(Constraint {
        attribute: attribute(key, value),
        key: key.to_string(),
        operator,
        value: value.to_string(),
    })
}

fn attribute(key: &str, value: &str) -> Attribute {
    let lower = key.to_ascii_lowercase();
    match lower.as_str() {
        "node.id" => Attribute::Id,
        "node.hostname" => Attribute::Hostname,
        "node.ip" => Attribute::Ip(ip_pattern(value)),
        "node.role" => Attribute::Role,
        "node.platform.os" => Attribute::Os,
        "node.platform.arch" => Attribute::Arch,
        // The prefix is case-insensitive but the label name keeps its case.
        _ if lower.len() > NODE_LABEL_PREFIX.len() && lower.starts_with(NODE_LABEL_PREFIX) => {
            Attribute::NodeLabel(key[NODE_LABEL_PREFIX.len()..].to_string())
        }
        _ if lower.len() > ENGINE_LABEL_PREFIX.len() && lower.starts_with(ENGINE_LABEL_PREFIX) => {
            Attribute::EngineLabel(key[ENGINE_LABEL_PREFIX.len()..].to_string())
        }
        _ => Attribute::Unknown,
    }
}

fn ip_pattern(value: &str) -> IpPattern {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return IpPattern::Addr(ip);
    }
    let Some((addr, bits)) = value.split_once('/') else {
        return IpPattern::Malformed;
    };
    // Go's CIDR parser takes decimal digits only (no sign).
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return IpPattern::Malformed;
    }
    let (Ok(addr), Ok(bits)) = (addr.parse::<IpAddr>(), bits.parse::<u8>()) else {
        return IpPattern::Malformed;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if bits > max {
        return IpPattern::Malformed;
    }
    IpPattern::Subnet(addr, bits)
}

fn subnet_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    // Go compares an IPv4-mapped IPv6 node address with an IPv4 subnet as IPv4.
    match (net, ip.to_canonical()) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// swarmkit's key pattern `^(?i)[a-z_][a-z0-9\-_.]+$`.
fn valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() >= 2
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// swarmkit's value pattern: letters, digits, whitespace and `:-_.*()?+[]\^$|/` — nothing that
/// could read as a present or future operator (`=`, `!`, `<`, `>`, `~`).
fn valid_value(value: &str) -> bool {
    !value.is_empty()
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b':' | b'-'
                        | b'_'
                        | b'.'
                        | b'*'
                        | b'('
                        | b')'
                        | b'?'
                        | b'+'
                        | b'['
                        | b']'
                        | b'\\'
                        | b'^'
                        | b'$'
                        | b'|'
                        | b'/'
                        | b' '
                        | b'\t'
                        | b'\n'
                        | b'\r'
                        | b'\x0c'
                )
        })
}

/// Case-insensitive equality like Go's `strings.EqualFold` (simple case folding).
fn equal_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

fn label<'a>(labels: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    labels.get(key).map_or("", String::as_str)
}

/// The node attributes constraints read; implemented for [`Node`] and for the scheduler's own
/// per-node record so both match identically.
pub(crate) trait NodeAttrs {
    fn id(&self) -> &str;
    fn hostname(&self) -> &str;
    fn addr(&self) -> Option<IpAddr>;
    fn role(&self) -> &str;
    fn os(&self) -> &str;
    fn arch(&self) -> &str;
    fn node_labels(&self) -> &BTreeMap<String, String>;
    fn engine_labels(&self) -> &BTreeMap<String, String>;
}

impl NodeAttrs for Node {
    fn id(&self) -> &str {
        &self.id
    }
    fn hostname(&self) -> &str {
        &self.description.hostname
    }
    fn addr(&self) -> Option<IpAddr> {
        self.status.addr.parse().ok()
    }
    fn role(&self) -> &str {
        self.spec.role.as_str()
    }
    fn os(&self) -> &str {
        &self.description.platform.os
    }
    fn arch(&self) -> &str {
        &self.description.platform.architecture
    }
    fn node_labels(&self) -> &BTreeMap<String, String> {
        &self.spec.labels
    }
    fn engine_labels(&self) -> &BTreeMap<String, String> {
        &self.description.engine.labels
    }
}
