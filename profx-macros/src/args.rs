//! Parsing of the attributes' arguments.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
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

    fn accepted(self) -> &'static str {
        match self {
            Kind::Agent => {
                "#[profx::agent], #[profx::agent(name = \"...\")], #[profx::agent(request = <expression>)] or both"
            }
            Kind::Phase => "#[profx::phase] or #[profx::phase(name = \"...\")]",
            Kind::Main => "#[profx::main] (no arguments)",
        }
    }
}

/// The arguments of `#[agent]` / `#[phase]` / `#[main]`.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) request: Option<Expr>,
}

struct Arg {
    key: Ident,
    value: Expr,
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                key.span(),
                format!("expected `{key} = ...`: arguments are written `key = value`"),
            ));
        }
        input.parse::<Token![=]>()?;
        let value: Expr = input.parse()?;
        Ok(Arg { key, value })
    }
}

impl Args {
    pub(crate) fn parse(kind: Kind, tokens: TokenStream) -> syn::Result<Args> {
        let mut args = Args::default();
        if tokens.is_empty() {
            return Ok(args);
        }
        if kind == Kind::Main {
            return Err(syn::Error::new_spanned(
                tokens,
                format!(
                    "{} takes no arguments; write {}",
                    kind.attr(),
                    kind.accepted()
                ),
            ));
        }
        let parser = Punctuated::<Arg, Token![,]>::parse_terminated;
        let list = parser.parse2(tokens).map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("{e}; {} accepts {}", kind.attr(), kind.accepted()),
            )
        })?;
        for arg in list {
            let key = arg.key.to_string();
            match (key.as_str(), kind) {
                ("name", _) => {
                    if args.name.is_some() {
                        return Err(duplicate(&arg.key));
                    }
                    let lit = match &arg.value {
                        Expr::Lit(l) => match &l.lit {
                            Lit::Str(s) => s.clone(),
                            _ => return Err(not_a_string(&arg.value)),
                        },
                        _ => return Err(not_a_string(&arg.value)),
                    };
                    if lit.value().trim().is_empty() {
                        return Err(syn::Error::new(
                            lit.span(),
                            "`name` must not be empty: give the name reports show, e.g. name = \"parse\"",
                        ));
                    }
                    args.name = Some(lit);
                }
                ("request", Kind::Agent) => {
                    if args.request.is_some() {
                        return Err(duplicate(&arg.key));
                    }
                    args.request = Some(arg.value);
                }
                ("request", _) => {
                    return Err(syn::Error::new(
                        arg.key.span(),
                        format!(
                            "`request` is only accepted on #[profx::agent]; {} accepts {}",
                            kind.attr(),
                            kind.accepted()
                        ),
                    ))
                }
                _ => {
                    return Err(syn::Error::new(
                        arg.key.span(),
                        format!(
                            "unknown argument `{key}`; {} accepts {}",
                            kind.attr(),
                            kind.accepted()
                        ),
                    ))
                }
            }
        }
        Ok(args)
    }
}

fn duplicate(key: &Ident) -> syn::Error {
    syn::Error::new(
        key.span(),
        format!("duplicate argument `{key}`: give it once"),
    )
}

fn not_a_string(value: &Expr) -> syn::Error {
    syn::Error::new_spanned(
        value,
        "expected a string literal for `name`, e.g. name = \"parse\"",
    )
}
