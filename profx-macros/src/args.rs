//! Parsing of the attributes' arguments.
//!
//! Every error is spanned at the offending token and ends with what the attribute accepts,
//! quoting the attribute form: "unknown argument `nmae`; #[profx::agent] accepts ...".

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Ident, Lit, LitStr, Token};

/// Which attribute is being parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Agent,
    Phase,
    Main,
}

impl Kind {
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Kind::Agent => "#[profx::agent]",
            Kind::Phase => "#[profx::phase]",
            Kind::Main => "#[profx::main]",
        }
    }

    /// Every form the attribute accepts.
    pub(crate) fn accepted(self) -> &'static str {
        match self {
            Kind::Agent => {
                "#[profx::agent], or any of #[profx::agent(name = \"...\")], #[profx::agent(request = <expression>)], #[profx::agent(traceparent = <expression>)], #[profx::agent(threshold = \"2s\")], #[profx::agent(failure = <fn(&E) -> bool>)], #[profx::agent(long_lived)] together"
            }
            Kind::Phase => {
                "#[profx::phase], or any of #[profx::phase(name = \"...\")], #[profx::phase(failure = <fn(&E) -> bool>)] together"
            }
            Kind::Main => "#[profx::main]",
        }
    }

    /// The form of `name = "..."` on this attribute.
    pub(crate) fn form_name(self) -> String {
        self.form(Key::Name)
    }

    /// The form of one argument, e.g. `#[profx::phase(name = "...")]`.
    fn form(self, key: Key) -> String {
        let name = match self {
            Kind::Agent => "agent",
            Kind::Phase => "phase",
            Kind::Main => "main",
        };
        match key {
            Key::Name => format!("#[profx::{name}(name = \"...\")]"),
            Key::Request => format!("#[profx::{name}(request = <expression>)]"),
            Key::Traceparent => format!("#[profx::{name}(traceparent = <expression>)]"),
            Key::Threshold => format!("#[profx::{name}(threshold = \"2s\")]"),
            Key::Failure => format!("#[profx::{name}(failure = <fn(&E) -> bool>)]"),
            Key::LongLived => format!("#[profx::{name}(long_lived)]"),
        }
    }

    /// The keys this attribute takes.
    fn key(self, ident: &Ident) -> Option<Key> {
        match (ident.to_string().as_str(), self) {
            ("name", Kind::Agent | Kind::Phase) => Some(Key::Name),
            ("request", Kind::Agent) => Some(Key::Request),
            ("traceparent", Kind::Agent) => Some(Key::Traceparent),
            ("threshold", Kind::Agent) => Some(Key::Threshold),
            ("failure", Kind::Agent | Kind::Phase) => Some(Key::Failure),
            ("long_lived", Kind::Agent) => Some(Key::LongLived),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Key {
    Name,
    Request,
    Traceparent,
    Threshold,
    Failure,
    /// A flag: no value.
    LongLived,
}

/// The arguments of `#[agent]` / `#[phase]` / `#[main]`.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) request: Option<Expr>,
    /// `traceparent = <expression>`: the W3C `traceparent` of the caller's trace to join
    /// (`&str`, `String`, an `Option` of one, or a reference to any of these).
    pub(crate) traceparent: Option<Expr>,
    /// `threshold = "2s"`: the agent's bottleneck threshold, in nanoseconds.
    pub(crate) threshold: Option<u64>,
    /// `failure = <expression>`: which `Err` is a failure (`Fn(&E) -> bool`), and the key's
    /// span (for errors about the function it is on).
    pub(crate) failure: Option<(Ident, Expr)>,
    /// `long_lived`: the agent is a session or a connection (the key, when given).
    pub(crate) long_lived: Option<Ident>,
}

impl Args {
    /// Parses `key = value, ...`. Syntax errors stop at the first; the rules on each argument
    /// (unknown, duplicate, bad value) are all reported together.
    pub(crate) fn parse(kind: Kind, tokens: TokenStream) -> syn::Result<Args> {
        if tokens.is_empty() {
            return Ok(Args::default());
        }
        if kind == Kind::Main {
            return Err(syn::Error::new_spanned(
                tokens,
                "#[profx::main] takes no arguments; write #[profx::main]",
            ));
        }
        let parser = |input: ParseStream| parse_list(kind, input);
        parser.parse2(tokens)
    }
}

/// `key = value, ...` up to the end of the attribute's arguments. A syntax error stops the
/// parse, and is reported with the errors found before it.
fn parse_list(kind: Kind, input: ParseStream) -> syn::Result<Args> {
    let mut args = Args::default();
    let mut errors = Errors::default();
    while !input.is_empty() {
        if let Err(e) = parse_arg(kind, input, &mut args, &mut errors) {
            errors.push(e);
            // The rest of the arguments cannot be read; leave them.
            input.step(|c| {
                let mut rest = *c;
                while let Some((_, next)) = rest.token_tree() {
                    rest = next;
                }
                Ok(((), rest))
            })?;
        }
    }
    errors.finish()?;
    Ok(args)
}

/// One `key = value` and the `,` after it.
fn parse_arg(
    kind: Kind,
    input: ParseStream,
    args: &mut Args,
    errors: &mut Errors,
) -> syn::Result<()> {
    // `parse_any`: a keyword in key position (`type = ..`) is an unknown argument too.
    let key = input.call(Ident::parse_any).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "expected an argument name; {} accepts {}",
                kind.attr(),
                kind.accepted()
            ),
        )
    })?;
    let Some(known) = kind.key(&key) else {
        errors.push(unknown(kind, &key));
        return skip_value(kind, input);
    };
    if let Key::LongLived = known {
        if let Some(eq) = input.parse::<Option<Token![=]>>()? {
            errors.push(syn::Error::new(
                eq.span,
                format!("`{key}` takes no value: {}", kind.form(known)),
            ));
            if !input.is_empty() && !input.peek(Token![,]) {
                input.parse::<Expr>().map_err(|e| with_accepted(kind, e))?;
            }
        }
        if !input.is_empty() {
            input
                .parse::<Token![,]>()
                .map_err(|e| with_accepted(kind, e))?;
        }
        if args.long_lived.is_some() {
            errors.push(duplicate(kind, known, &key));
        } else {
            args.long_lived = Some(key);
        }
        return Ok(());
    }
    let Some(eq) = input.parse::<Option<Token![=]>>()? else {
        return Err(syn::Error::new(
            key.span(),
            format!("`{key}` needs a value: {}", kind.form(known)),
        ));
    };
    if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new(
            eq.span,
            format!("missing value after `{key} =`: {}", kind.form(known)),
        ));
    }
    let value: Expr = input.parse().map_err(|e| with_accepted(kind, e))?;
    match known {
        Key::Name if args.name.is_some() => errors.push(duplicate(kind, known, &key)),
        Key::Request if args.request.is_some() => errors.push(duplicate(kind, known, &key)),
        Key::Traceparent if args.traceparent.is_some() => errors.push(duplicate(kind, known, &key)),
        Key::Threshold if args.threshold.is_some() => errors.push(duplicate(kind, known, &key)),
        Key::Failure if args.failure.is_some() => errors.push(duplicate(kind, known, &key)),
        Key::Name => match name(kind, &value) {
            Ok(lit) => args.name = Some(lit),
            Err(e) => errors.push(e),
        },
        Key::Request => args.request = Some(value),
        Key::Traceparent => args.traceparent = Some(value),
        Key::Threshold => match threshold(kind, &value) {
            Ok(ns) => args.threshold = Some(ns),
            Err(e) => errors.push(e),
        },
        Key::Failure => match failure(kind, &value) {
            Ok(()) => args.failure = Some((key, value)),
            Err(e) => errors.push(e),
        },
        Key::LongLived => unreachable!("a flag, handled above"),
    }
    if !input.is_empty() {
        input
            .parse::<Token![,]>()
            .map_err(|e| with_accepted(kind, e))?;
    }
    Ok(())
}

/// After an unknown key: skip `= value` (if any) up to the next `,`, so that the arguments
/// after it are still checked.
fn skip_value(kind: Kind, input: ParseStream) -> syn::Result<()> {
    let eq = input.parse::<Option<Token![=]>>()?;
    if eq.is_some() && !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<Expr>().map_err(|e| with_accepted(kind, e))?;
    }
    if !input.is_empty() {
        input
            .parse::<Token![,]>()
            .map_err(|e| with_accepted(kind, e))?;
    }
    Ok(())
}

/// The value of `name`: a non-empty string literal.
fn name(kind: Kind, value: &Expr) -> syn::Result<LitStr> {
    let lit = match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => s.clone(),
        _ => {
            return Err(syn::Error::new_spanned(
                value,
                format!("`name` takes a string literal: {}", kind.form(Key::Name)),
            ))
        }
    };
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`name` must not be empty: {}, or {} to use the function's name",
                kind.form(Key::Name),
                kind.attr()
            ),
        ));
    }
    Ok(lit)
}

/// The value of `threshold`: a string literal of a duration above zero, in nanoseconds.
fn threshold(kind: Kind, value: &Expr) -> syn::Result<u64> {
    let form = kind.form(Key::Threshold);
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            format!("`threshold` takes a string literal of a duration: {form}"),
        ));
    };
    match humantime::parse_duration(lit.value().trim()) {
        Ok(d) if !d.is_zero() => Ok(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        Ok(_) => Err(syn::Error::new(
            lit.span(),
            format!("`threshold` must be above zero: {form}"),
        )),
        Err(e) => Err(syn::Error::new(
            lit.span(),
            format!(
                "`threshold` takes a duration with a unit, such as \"2s\", \"500ms\" or \"1m 30s\" ({e}): {form}"
            ),
        )),
    }
}

/// The value of `failure`: anything callable as `Fn(&E) -> bool` (a path or a closure; the
/// compiler checks its type). Literals are refused here, with the accepted forms.
fn failure(kind: Kind, value: &Expr) -> syn::Result<()> {
    match value {
        Expr::Lit(_) => Err(syn::Error::new_spanned(
            value,
            format!(
                "`failure` takes a function or closure over the error that says whether it is a failure, such as `failure = is_failure` or `failure = |e| !e.is_retryable()`: {}",
                kind.form(Key::Failure)
            ),
        )),
        _ => Ok(()),
    }
}

fn unknown(kind: Kind, key: &Ident) -> syn::Error {
    let what =
        if key == "request" || key == "traceparent" || key == "threshold" || key == "long_lived" {
            format!("`{key}` is only accepted on #[profx::agent]")
        } else {
            format!("unknown argument `{key}`")
        };
    syn::Error::new(
        key.span(),
        format!("{what}; {} accepts {}", kind.attr(), kind.accepted()),
    )
}

fn duplicate(kind: Kind, known: Key, key: &Ident) -> syn::Error {
    syn::Error::new(
        key.span(),
        format!(
            "duplicate argument `{key}`; {} takes it once: {}",
            kind.attr(),
            kind.form(known)
        ),
    )
}

/// A syntax error from syn, followed by what the attribute accepts.
fn with_accepted(kind: Kind, e: syn::Error) -> syn::Error {
    syn::Error::new(
        e.span(),
        format!("{e}; {} accepts {}", kind.attr(), kind.accepted()),
    )
}

/// Several errors reported together (as serde's `Ctxt`).
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
