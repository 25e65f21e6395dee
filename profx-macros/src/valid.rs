//! What the attributes accept (SPEC §3), checked before anything is generated.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::ItemFn;

use crate::args::{Args, Kind};

/// The parsed arguments and function, or the error to report.
pub(crate) fn check(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
) -> syn::Result<(Args, ItemFn)> {
    let func = parse_fn(kind, item)?;
    let args = Args::parse(kind, args)?;
    if let Some(c) = &func.sig.constness {
        return Err(syn::Error::new(
            c.span,
            format!(
                "{} cannot be used on a `const fn`: timing reads a clock, which const evaluation cannot do; remove `const` or the attribute",
                kind.attr()
            ),
        ));
    }
    if kind == Kind::Main && func.sig.ident != "main" {
        return Err(syn::Error::new(
            func.sig.ident.span(),
            format!(
                "#[profx::main] goes on `fn main`, not on `{}`; use #[profx::agent] or #[profx::phase] to instrument other functions",
                func.sig.ident
            ),
        ));
    }
    if kind == Kind::Main && func.sig.asyncness.is_some() {
        return Err(syn::Error::new(
            func.sig.asyncness.span(),
            "#[profx::main] goes on a sync `fn main`; with an async runtime's attribute (e.g. #[tokio::main]), put #[profx::main] above it",
        ));
    }
    Ok((args, func))
}

fn parse_fn(kind: Kind, item: TokenStream) -> syn::Result<ItemFn> {
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => Ok(f),
        Err(_) => {
            // Say what the item is, pointing at it.
            let what = match syn::parse2::<syn::Item>(item.clone()) {
                Ok(syn::Item::Struct(s)) => Some(("a struct", s.struct_token.span)),
                Ok(syn::Item::Enum(e)) => Some(("an enum", e.enum_token.span)),
                Ok(syn::Item::Impl(i)) => Some(("an impl block", i.impl_token.span)),
                Ok(syn::Item::Trait(t)) => Some(("a trait", t.trait_token.span)),
                Ok(syn::Item::Mod(m)) => Some(("a module", m.mod_token.span)),
                Ok(syn::Item::Static(s)) => Some(("a static", s.static_token.span)),
                Ok(syn::Item::Const(c)) => Some(("a const", c.const_token.span)),
                Ok(syn::Item::Type(t)) => Some(("a type alias", t.type_token.span)),
                Ok(syn::Item::Use(u)) => Some(("a use declaration", u.use_token.span)),
                _ => None,
            };
            if let Some((what, span)) = what {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "{} can only be used on functions (free functions, methods, associated functions), not on {what}",
                        kind.attr()
                    ),
                ));
            }
            // A function signature without a body (a trait's required method).
            if let Ok(f) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
                if f.default.is_none() {
                    return Err(syn::Error::new(
                        f.sig.span(),
                        format!(
                            "{} needs a function body; put it on the implementations of this method instead",
                            kind.attr()
                        ),
                    ));
                }
            }
            let span = item
                .into_iter()
                .next()
                .map(|t| t.span())
                .unwrap_or_else(proc_macro2::Span::call_site);
            Err(syn::Error::new(
                span,
                format!(
                    "{} can only be used on functions (free functions, methods, associated functions)",
                    kind.attr()
                ),
            ))
        }
    }
}
