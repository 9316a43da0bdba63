//! The envelope of one transaction, and its preparation against what the server offers.

use alloc::vec::Vec;

use super::event::{DeferReason, EnvelopeError};
use super::offer::Offer;
use crate::address::{ForwardPath, Host, ReversePath};
use crate::command::{BodyType, MailParams, RcptParams};
use crate::ehlo::Extension;

/// One recipient: `RCPT TO:<forward_path> params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The forward path.
    pub forward_path: ForwardPath,
    /// RCPT parameters (DSN `NOTIFY`/`ORCPT`, ...).
    pub params: RcptParams,
}

impl Recipient {
    /// A recipient without parameters.
    pub fn new(forward_path: ForwardPath) -> Self {
        Recipient {
            forward_path,
            params: RcptParams::default(),
        }
    }
}

/// What `MAIL FROM` and the `RCPT TO`s of one transaction carry.
///
/// Parameters the server does not advertise are dropped before sending when they are only
/// advice (SIZE, DSN, AUTH=, MT-PRIORITY, ...); when the message cannot be delivered
/// correctly without them (SMTPUTF8, BODY=8BITMIME/BINARYMIME, REQUIRETLS) the transaction
/// is refused with [`EnvelopeError`] before anything is sent. `SMTPUTF8` is added when an
/// address needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path (`<>` for bounces).
    pub reverse_path: ReversePath,
    /// MAIL parameters.
    pub params: MailParams,
    /// The recipients, in order.
    pub recipients: Vec<Recipient>,
}

impl Envelope {
    /// An envelope without recipients yet.
    pub fn new(reverse_path: ReversePath) -> Self {
        Envelope {
            reverse_path,
            params: MailParams::default(),
            recipients: Vec::new(),
        }
    }

    /// Adds a recipient.
    pub fn to(mut self, forward_path: ForwardPath) -> Self {
        self.recipients.push(Recipient::new(forward_path));
        self
    }

    /// Adds a recipient with parameters.
    pub fn to_with(mut self, forward_path: ForwardPath, params: RcptParams) -> Self {
        self.recipients.push(Recipient {
            forward_path,
            params,
        });
        self
    }

    /// Declares the message size (sent as `SIZE=` when the server offers SIZE, RFC 1870).
    pub fn with_size(mut self, size: u64) -> Self {
        self.params.size = Some(size);
        self
    }

    /// Declares the body type (`BODY=`, RFC 6152 / RFC 3030).
    pub fn with_body_type(mut self, body: BodyType) -> Self {
        self.params.body = Some(body);
        self
    }

    /// `true` when an address is UTF-8 or SMTPUTF8 was asked for (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        self.params.smtputf8
            || self.reverse_path.is_utf8()
            || self.recipients.iter().any(|r| r.forward_path.is_utf8())
    }
}

/// An envelope ready to go: parameters fitted to the server, recipients chosen.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) reverse_path: ReversePath,
    pub(crate) params: MailParams,
    /// `(original index, recipient)`.
    pub(crate) recipients: Vec<(usize, Recipient)>,
    /// Recipients left for another transaction, with their original indices.
    pub(crate) deferred: Option<(Vec<usize>, Envelope, DeferReason)>,
}

/// Fits `env` to `offer`. `secure`: the session runs under TLS. `bdat`: the body will go
/// with BDAT.
pub(crate) fn prepare(
    env: Envelope,
    offer: &Offer,
    secure: bool,
    bdat: bool,
) -> Result<Prepared, EnvelopeError> {
    if env.recipients.is_empty() {
        return Err(EnvelopeError::NoRecipients);
    }
    let needs_utf8 = env.needs_smtputf8();
    let Envelope {
        reverse_path,
        params: original_params,
        recipients,
    } = env;
    let mut p = original_params.clone();
    if needs_utf8 {
        if !offer.smtputf8 {
            return Err(EnvelopeError::NeedsSmtpUtf8);
        }
        p.smtputf8 = true;
    }
    match p.body {
        Some(BodyType::EightBitMime) if !offer.eight_bit_mime => {
            return Err(EnvelopeError::Needs8BitMime)
        }
        Some(BodyType::BinaryMime) if !(offer.binary_mime && bdat) => {
            return Err(EnvelopeError::NeedsBinaryMime)
        }
        // BODY=7BIT is defined by 8BITMIME; without it, 7-bit is the only kind anyway.
        Some(BodyType::SevenBit) if !offer.eight_bit_mime => p.body = None,
        _ => {}
    }
    if p.requiretls && !(offer.require_tls && secure) {
        return Err(EnvelopeError::NeedsRequireTls);
    }
    match (p.size, offer.size) {
        (Some(size), Some(limit)) if limit > 0 && size > limit => {
            return Err(EnvelopeError::TooLarge { size, limit })
        }
        (Some(_), None) => p.size = None,
        _ => {}
    }
    if let Some(e) = &mut p.extra {
        if !offer.dsn {
            e.ret = None;
            e.envid = None;
        }
        if offer.auth.is_empty() {
            e.auth = None;
        }
        if !offer.has(Extension::MtPriority) {
            e.mt_priority = None;
        }
        if !offer.has(Extension::FutureRelease) {
            e.future_release = None;
        }
        if !offer.has(Extension::DeliverBy) {
            e.by = None;
        }
        if !offer.has(Extension::Mtrk) {
            e.mtrk = None;
        }
        if !offer.has(Extension::NoSoliciting) {
            e.solicit = None;
        }
        if !offer.has(Extension::Conperm) {
            e.conperm = false;
        }
    }

    let mut chosen = Vec::new();
    let mut rest = Vec::new();
    let mut rest_idx = Vec::new();
    let mut reason = DeferReason::RcptMax;
    let rcpt_max = offer.limits.rcpt_max.unwrap_or(u64::MAX);
    let domain_max = offer.limits.rcpt_domain_max.unwrap_or(u64::MAX);
    let domain_of = |r: &Recipient| -> Option<alloc::vec::Vec<u8>> {
        match &r.forward_path {
            ForwardPath::Mailbox(m) => match m.host() {
                Host::Domain(d) => Some(d.as_bytes().to_ascii_lowercase()),
                Host::Literal(_) => None,
            },
            ForwardPath::Postmaster => None,
        }
    };
    let mut domain_store: Vec<Vec<u8>> = Vec::new();
    for (i, mut r) in recipients.into_iter().enumerate() {
        let fits_count = (chosen.len() as u64) < rcpt_max;
        let d = domain_of(&r);
        let fits_domain = match &d {
            None => true,
            Some(d) => {
                domain_store.iter().any(|s| s == d) || (domain_store.len() as u64) < domain_max
            }
        };
        if fits_count && fits_domain {
            if let Some(d) = d {
                if !domain_store.contains(&d) {
                    domain_store.push(d);
                }
            }
            if !offer.dsn {
                r.params.notify = None;
                r.params.orcpt = None;
            }
            if let Some(e) = &mut r.params.extra {
                if !offer.has(Extension::Rrvs) {
                    e.rrvs = None;
                }
                if !offer.has(Extension::Conneg) {
                    e.conneg = false;
                }
            }
            chosen.push((i, r));
        } else {
            if rest.is_empty() && fits_count {
                reason = DeferReason::RcptDomainMax;
            }
            rest_idx.push(i);
            rest.push(r);
        }
    }
    let deferred = (!rest.is_empty()).then(|| {
        (
            rest_idx,
            Envelope {
                reverse_path: reverse_path.clone(),
                params: original_params,
                recipients: rest,
            },
            reason,
        )
    });
    Ok(Prepared {
        reverse_path,
        params: p,
        recipients: chosen,
        deferred,
    })
}
