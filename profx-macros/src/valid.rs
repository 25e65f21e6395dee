//! What the attributes accept (SPEC §3), checked before anything is generated.
//!
//! Each error is spanned at the offending token (the `struct` keyword, `const`, the function's
//! name for #[profx::main], ...) and says what is accepted. Every error found is reported at
//! once: a bad argument on a `const fn` gives both errors.

use proc_macro2::{Span, TokenStream};
use syn::ItemFn;

use crate::args::{Args, Errors, Kind};

/// The parsed arguments and function, or the errors to report.
pub(crate) fn check(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
) -> syn::Result<(Args, ItemFn)> {
    let mut errors = Errors::default();
    let func = parse_fn(kind, item).map_err(|e| errors.push(e)).ok();
    let args = Args::parse(kind, args).map_err(|e| errors.push(e)).ok();
    if let Some(func) = &func {
        check_fn(kind, func, &mut errors);
        if let Some(args) = &args {
            check_failure(args, func, &mut errors);
        }
    }
    errors.finish()?;
    match (args, func) {
        (Some(args), Some(func)) => Ok((args, func)),
        _ => unreachable!("an error was reported for each missing part"),
    }
}

fn check_fn(kind: Kind, func: &ItemFn, errors: &mut Errors) {
    if let Some(c) = &func.sig.constness {
        errors.push(syn::Error::new(
            c.span,
            format!(
                "{} cannot be used on a `const fn` (const evaluation has no clock); remove `const` or the attribute",
                kind.attr()
            ),
        ));
    }
    if kind != Kind::Main {
        return;
    }
    if func.sig.ident != "main" {
        errors.push(syn::Error::new(
            func.sig.ident.span(),
            format!(
                "#[profx::main] goes on `fn main`, not on `{}`; use #[profx::agent] or #[profx::phase] on other functions",
                func.sig.ident
            ),
        ));
    } else if let Some(a) = &func.sig.asyncness {
        // `#[profx::main] #[tokio::main] async fn main`: attributes expand outermost first, so
        // this one sees the runtime's attribute still in place and the function still async.
        // The report guard then lives in the async body, which is fine.
        if !has_runtime_main(func) {
            errors.push(syn::Error::new(
                a.span,
                "#[profx::main] on `async fn main` needs an async runtime's attribute next to it, e.g. #[profx::main] #[tokio::main]",
            ));
        }
    }
}

/// `failure = ...` classifies the `Err` of a function that returns a `Result`.
fn check_failure(args: &Args, func: &ItemFn, errors: &mut Errors) {
    let Some((key, _)) = &args.failure else {
        return;
    };
    if crate::expand::returns_result(&func.sig.output) {
        return;
    }
    let returns = match &func.sig.output {
        syn::ReturnType::Default => "returns nothing".to_string(),
        syn::ReturnType::Type(_, ty) => {
            format!(
                "returns `{}`",
                compact(&quote::ToTokens::to_token_stream(ty).to_string())
            )
        }
    };
    errors.push(syn::Error::new(
        key.span(),
        format!(
            "`failure = ...` says which `Err` of a `Result` is a failure, but `{}` {returns}; remove `failure` or return a `Result` (a type named `Result`, such as `io::Result<T>`)",
            func.sig.ident
        ),
    ));
}

/// A type's tokens as a person writes them: `Res<u8>`, not `Res < u8 >`.
fn compact(tokens: &str) -> String {
    tokens
        .replace(" :: ", "::")
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" <", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
}

/// Whether another attribute on the function is a runtime's `main` (`#[tokio::main]`,
/// `#[async_std::main]`, `#[actix_web::main]`, ...).
fn has_runtime_main(func: &ItemFn) -> bool {
    func.attrs
        .iter()
        .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "main"))
}

fn parse_fn(kind: Kind, item: TokenStream) -> syn::Result<ItemFn> {
    if let Ok(f) = syn::parse2::<ItemFn>(item.clone()) {
        return Ok(f);
    }
    // Say what the item is, pointing at its keyword.
    let what = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(s)) => Some(("a struct", s.struct_token.span)),
        Ok(syn::Item::Enum(e)) => Some(("an enum", e.enum_token.span)),
        Ok(syn::Item::Union(u)) => Some(("a union", u.union_token.span)),
        Ok(syn::Item::Impl(i)) => Some(("an impl block", i.impl_token.span)),
        Ok(syn::Item::Trait(t)) => Some(("a trait", t.trait_token.span)),
        Ok(syn::Item::TraitAlias(t)) => Some(("a trait alias", t.trait_token.span)),
        Ok(syn::Item::Mod(m)) => Some(("a module", m.mod_token.span)),
        Ok(syn::Item::Static(s)) => Some(("a static", s.static_token.span)),
        Ok(syn::Item::Const(c)) => Some(("a const", c.const_token.span)),
        Ok(syn::Item::Type(t)) => Some(("a type alias", t.type_token.span)),
        Ok(syn::Item::Use(u)) => Some(("a use declaration", u.use_token.span)),
        Ok(syn::Item::ExternCrate(e)) => Some(("an extern crate", e.crate_token.span)),
        Ok(syn::Item::ForeignMod(f)) => Some(("an extern block", f.abi.extern_token.span)),
        Ok(syn::Item::Macro(m)) => Some((
            "a macro",
            m.mac
                .path
                .segments
                .first()
                .map_or_else(Span::call_site, |s| s.ident.span()),
        )),
        _ => None,
    };
    if let Some((what, span)) = what {
        let on = if kind == Kind::Main {
            "`fn main`"
        } else {
            "functions (free functions, methods, associated functions), `impl` blocks and inline modules"
        };
        return Err(syn::Error::new(
            span,
            format!("{} can only be used on {on}, not on {what}", kind.attr()),
        ));
    }
    // A function signature without a body: a trait's required method.
    if let Ok(f) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
        if f.default.is_none() {
            let semi = f
                .semi_token
                .map_or_else(|| f.sig.ident.span(), |s| s.spans[0]);
            return Err(syn::Error::new(
                semi,
                format!(
                    "{} needs a function with a body, not a method signature; put it on the method in each impl",
                    kind.attr()
                ),
            ));
        }
    }
    let span = item
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span());
    Err(syn::Error::new(
        span,
        if kind == Kind::Main {
            "#[profx::main] can only be used on `fn main`".to_owned()
        } else {
            format!(
                "{} can only be used on functions (free functions, methods, associated functions), `impl` blocks and inline modules",
                kind.attr()
            )
        },
    ))
}
