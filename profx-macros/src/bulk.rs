//! `#[profx::phase]` and `#[profx::agent]` on an `impl` block or an inline `mod`: every `fn`
//! inside gets the attribute, named `Type::method` (`module::function` in a module, the path
//! from the annotated module down for nested ones), with the block's other arguments.
//!
//! What is left alone: a `fn` that has its own `#[profx::phase(..)]` or `#[profx::agent(..)]`
//! (the explicit one wins), one marked `#[profx::skip]` (the marker is removed), a `const fn`,
//! and every item that is not a function. The functions are given the attribute rather than
//! expanded here, so each is checked and expanded exactly as if the user had written it on
//! the function (its errors point at the block's arguments); without the `enabled` feature the
//! block is emitted as written, less the `#[profx::skip]` markers.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::punctuated::Punctuated;
use syn::{Attribute, ImplItem, Item, ItemImpl, ItemMod, Meta, Signature, Token, Type};

use crate::args::{Args, Errors, Kind};

/// Whether `item` is something the bulk form applies to (an `impl` block or a `mod`), to be
/// handled by [`expand`] rather than as a function.
pub(crate) fn applies(item: &TokenStream) -> Option<Item> {
    match syn::parse2::<Item>(item.clone()) {
        Ok(item @ (Item::Impl(_) | Item::Mod(_))) => Some(item),
        _ => None,
    }
}

/// The block with every function inside given the attribute (see the module documentation).
pub(crate) fn expand(kind: Kind, args: TokenStream, item: Item) -> TokenStream {
    let mut errors = Errors::default();
    match Args::parse(kind, args.clone()) {
        Ok(parsed) => {
            if let Some(name) = &parsed.name {
                errors.push(syn::Error::new(
                    name.span(),
                    format!(
                        "`name = ...` cannot be used on {}: each function is named for its place (`Type::method`, `module::function`); put {} on the function to name it",
                        what(&item),
                        kind.form_name(),
                    ),
                ));
            }
        }
        Err(e) => errors.push(e),
    }
    let mut item = item;
    if let Item::Mod(m) = &item {
        if m.content.is_none() {
            errors.push(syn::Error::new(
                m.semi.map_or_else(|| m.ident.span(), |s| s.span),
                format!(
                    "{} goes on an inline module (`mod {} {{ ... }}`), whose functions it can see; on a module in a file of its own, put it on the items inside",
                    kind.attr(),
                    m.ident
                ),
            ));
        }
    }
    check_skips(&item, &mut errors);
    // With an error, the block as written (its functions not given the attribute, so the
    // error is said once).
    let enabled = cfg!(feature = "enabled") && errors.is_empty();
    let metas = metas(&args);
    let give = |path: &str, sig: &Signature, attrs: &mut Vec<Attribute>| {
        if skip_marker(attrs) || has_own(attrs) {
            return;
        }
        if enabled {
            attrs.push(attribute(kind, &metas, sig, path));
        }
    };
    match &mut item {
        Item::Impl(i) => impl_block(i, None, &give),
        Item::Mod(m) => module(m, &m.ident.to_string(), &give),
        _ => unreachable!("`applies` only lets impl blocks and modules through"),
    }
    let out = item.into_token_stream();
    match errors.finish() {
        Ok(()) => out,
        Err(e) => {
            let err = e.to_compile_error();
            quote!(#err #out)
        }
    }
}

/// `#[profx::skip]` markers with arguments, anywhere in the block.
fn check_skips(item: &Item, errors: &mut Errors) {
    fn check(attrs: &[Attribute], errors: &mut Errors) {
        for a in attrs.iter().filter(|a| is_profx(a, "skip")) {
            if !matches!(a.meta, syn::Meta::Path(_)) {
                errors.push(syn::Error::new_spanned(
                    &a.meta,
                    "#[profx::skip] takes no arguments; write #[profx::skip]",
                ));
            }
        }
    }
    match item {
        Item::Impl(i) => {
            for f in &i.items {
                if let ImplItem::Fn(f) = f {
                    check(&f.attrs, errors);
                }
            }
        }
        Item::Mod(m) => {
            for inner in m.content.iter().flat_map(|(_, items)| items) {
                match inner {
                    Item::Fn(f) => check(&f.attrs, errors),
                    Item::Impl(i) => check(&i.attrs, errors),
                    Item::Mod(n) => check(&n.attrs, errors),
                    _ => {}
                }
                if matches!(inner, Item::Impl(_) | Item::Mod(_)) {
                    check_skips(inner, errors);
                }
            }
        }
        _ => {}
    }
}

/// "an impl block" or "a module", for messages.
fn what(item: &Item) -> &'static str {
    match item {
        Item::Impl(_) => "an impl block",
        _ => "a module",
    }
}

/// The methods and associated functions of `block`, named `Type::method` (`Type` prefixed by
/// `module`, for a block inside an annotated module).
fn impl_block(
    block: &mut ItemImpl,
    module: Option<&str>,
    give: &impl Fn(&str, &Signature, &mut Vec<Attribute>),
) {
    let ty = type_name(&block.self_ty);
    let prefix = match module {
        Some(m) => format!("{m}::{ty}"),
        None => ty,
    };
    for item in &mut block.items {
        if let ImplItem::Fn(f) = item {
            if f.sig.constness.is_some() {
                continue;
            }
            give(&format!("{prefix}::{}", f.sig.ident), &f.sig, &mut f.attrs);
        }
    }
}

/// The functions of module `m` (named `path::function`), of the impl blocks in it, and of the
/// modules nested in it.
fn module(m: &mut ItemMod, path: &str, give: &impl Fn(&str, &Signature, &mut Vec<Attribute>)) {
    let Some((_, items)) = &mut m.content else {
        return;
    };
    for item in items {
        // A nested block marked `#[profx::skip]`, or with an attribute of its own, is left out.
        let left_out = match item {
            Item::Impl(i) => skip_marker(&mut i.attrs) || has_own(&i.attrs),
            Item::Mod(inner) => skip_marker(&mut inner.attrs) || has_own(&inner.attrs),
            _ => false,
        };
        if left_out {
            continue;
        }
        match item {
            Item::Fn(f) if f.sig.constness.is_none() => {
                give(&format!("{path}::{}", f.sig.ident), &f.sig, &mut f.attrs);
            }
            Item::Impl(i) => impl_block(i, Some(path), give),
            Item::Mod(inner) => {
                let inner_path = format!("{path}::{}", inner.ident);
                module(inner, &inner_path, give);
            }
            _ => {}
        }
    }
}

/// The name of the type an impl block is for: its last path segment (`Vec` for `Vec<T>`,
/// `Conn` for `&mut Conn`), else the type as written.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(|| "Self".to_owned(), |s| s.ident.to_string()),
        Type::Reference(r) => type_name(&r.elem),
        Type::Paren(p) => type_name(&p.elem),
        Type::Group(g) => type_name(&g.elem),
        other => other.to_token_stream().to_string().replace(' ', ""),
    }
}

/// The block's arguments, one by one (they were checked: they parse).
fn metas(args: &TokenStream) -> Vec<Meta> {
    syn::parse::Parser::parse2(
        Punctuated::<Meta, Token![,]>::parse_terminated,
        args.clone(),
    )
    .map(|p| p.into_iter().collect())
    .unwrap_or_default()
}

/// The attribute a function of the block is given: its name, and the block's arguments that
/// make sense on it (`failure = ...` only on a function that returns a `Result`).
fn attribute(kind: Kind, metas: &[Meta], sig: &Signature, name: &str) -> Attribute {
    let path = match kind {
        Kind::Agent => quote!(::profx::agent),
        _ => quote!(::profx::phase),
    };
    let result = crate::expand::returns_result(&sig.output);
    let args = metas
        .iter()
        .filter(|m| result || !m.path().is_ident("failure"));
    syn::parse_quote_spanned!(Span::call_site()=> #[#path(#(#args,)* name = #name)])
}

/// Whether `attrs` holds `#[profx::skip]` (or `#[skip]` imported from profx), which is then
/// removed: it has done its job.
fn skip_marker(attrs: &mut Vec<Attribute>) -> bool {
    let before = attrs.len();
    attrs.retain(|a| !is_profx(a, "skip"));
    attrs.len() != before
}

/// Whether the function has its own `#[profx::phase]`, `#[profx::agent]` (or the bare
/// `#[phase]`, `#[agent]` imported from profx).
fn has_own(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| is_profx(a, "phase") || is_profx(a, "agent"))
}

/// `#[profx::<name>]`, `#[::profx::<name>]` or `#[<name>]`.
fn is_profx(a: &Attribute, name: &str) -> bool {
    let segments: Vec<String> = a
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    match segments.as_slice() {
        [only] => only == name,
        [krate, last] => krate == "profx" && last == name,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "enabled")]
    fn names(kind: Kind, args: TokenStream, item: TokenStream) -> Vec<String> {
        let out = expand(kind, args, applies(&item).expect("a block"));
        let s = out.to_string();
        s.split("name = \"")
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
            .collect()
    }

    #[test]
    #[cfg(feature = "enabled")]
    fn every_function_of_an_impl_block_is_named_for_its_type() {
        let item = quote! {
            impl<T: Clone> Store<T> {
                pub fn get(&self) -> T { self.0.clone() }
                async fn load(&mut self) {}
                const fn zero() -> u8 { 0 }
                #[profx::skip]
                fn hot(&self) {}
                #[profx::phase(name = "custom")]
                fn own(&self) {}
                const LIMIT: usize = 3;
                type Alias = T;
            }
        };
        assert_eq!(
            names(Kind::Phase, quote!(), item),
            ["Store::get", "Store::load", "custom"]
        );
    }

    #[test]
    #[cfg(feature = "enabled")]
    fn a_trait_impl_is_named_for_the_type_and_modules_nest() {
        let item = quote! {
            impl Handler for &mut Conn {
                fn handle(&self) {}
            }
        };
        assert_eq!(names(Kind::Agent, quote!(), item), ["Conn::handle"]);
        let item = quote! {
            mod io {
                fn read() -> Result<(), String> { Ok(()) }
                mod disk {
                    pub fn flush() {}
                    struct S;
                    impl S { fn f() {} }
                }
                #[profx::skip]
                mod raw { fn poke() {} }
                macro_rules! m { () => {} }
            }
        };
        assert_eq!(
            names(Kind::Phase, quote!(failure = is_bad), item.clone()),
            ["io::read", "io::disk::flush", "io::disk::S::f"]
        );
        // The block's other arguments go to each function where they make sense: `failure`
        // to the one that returns a `Result`.
        let out = expand(
            Kind::Phase,
            quote!(failure = is_bad),
            applies(&item).unwrap(),
        );
        assert_eq!(out.to_string().matches("failure = is_bad").count(), 1);
    }

    #[test]
    fn skip_markers_go_and_the_rest_is_as_written_without_the_feature() {
        let item = quote! {
            impl S {
                #[profx::skip]
                fn hot(&self) {}
                fn cold(&self) {}
            }
        };
        let out = expand(Kind::Phase, quote!(), applies(&item).unwrap()).to_string();
        assert!(!out.contains("skip"), "{out}");
        if !cfg!(feature = "enabled") {
            let expected = quote! {
                impl S {
                    fn hot(&self) {}
                    fn cold(&self) {}
                }
            };
            assert_eq!(out, expected.to_string());
        }
    }

    #[test]
    fn name_on_a_block_is_an_error() {
        let item = quote!(impl S { fn f() {} });
        let out = expand(Kind::Phase, quote!(name = "x"), applies(&item).unwrap()).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("cannot be used on an impl block"), "{out}");
    }
}
