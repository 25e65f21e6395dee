//! Code generation.
//!
//! Input (sync):
//! ```text
//! #[profx::agent(request = q)] fn run(&self, q: String, mut n: u32) -> Result<T, E> { body }
//! ```
//! Output:
//! ```text
//! fn run(&self, q: String, n: u32) -> Result<T, E> {
//!     static SITE: Site = Site::new("run");
//!     let mut state = AgentState::new(&SITE, Some(format_args!("{}", q)));
//!     let ret: Result<T, E> = state.run_sync(move || -> Result<T, E> {
//!         let q = q;
//!         let mut n = n;
//!         match () { () => { body } }
//!     });
//!     state.finish(<outcome of &ret>);
//!     ret
//! }
//! ```
//! A sync `#[phase]` is shaped for the hot path: its site is also a type (so that the span
//! need not carry it), the body closure is bound first, and the function ends in one of three
//! tail calls (on the sign of one load: see `armed`):
//! ```text
//! fn parse(x: u64) -> u64 {
//!     static SITE: Site = Site::new("parse");
//!     struct __ProfxSite; impl SiteRef for __ProfxSite { fn site() -> &'static Site { &SITE } }
//!     let body = once(move || -> u64 { let x = x; match () { () => { body } } });
//!     match armed() {
//!         1.. => SyncPhase::<__ProfxSite>::run(body, |ret: &u64| <is failure>),
//!         0 => body_fn(body),                                   // nothing records
//!         _ => SyncPhase::<__ProfxSite>::run_any_clock(body, |ret: &u64| <is failure>),
//!     }
//! }
//! ```
//! (`once` only types the closure as `FnOnce`, so that a body may hand out a borrow of what it
//! captured, `&mut self.field`.) A sync agent that names no request and returns has the same
//! shape, its outcome told to the execution's end:
//! ```text
//!         a @ 1.. => SyncAgent::<__ProfxSite>::run(body, |ret: &T, end: AgentEnd<'_>| end.finish(<outcome>), a),
//!         _ => SyncAgent::<__ProfxSite>::run_any_clock(..same..),
//! ```
//! (An agent with `request = ..` keeps the `AgentState` form above: its request borrows the
//! arguments before the body closure takes them.)
//! The closure keeps `?` and `return` inside the timed region and lets the outcome be read.
//! Drop order is the function's own, as rustc keeps it when it lowers `async fn`:
//! - every argument is moved into the closure and re-bound in order; an argument whose pattern
//!   is not a plain binding (`(a, _)`, `_`, `Point { x, .. }`, `ref x`) becomes `__profx_argN`
//!   in the signature and `let __profx_argN = __profx_argN; let <pattern> = __profx_argN;` in
//!   the closure, so its unbound parts drop with it rather than after the body;
//! - a `self` taken by value is captured whole (`let _ = &self;`), not field by field;
//! - the body sits in a match arm, a temporary scope, so the temporaries of its tail expression
//!   drop before the arguments, as they do at the end of a function body.
//!
//! An `async fn` gets the same shape with `async move { .. }` and `.await`; there the body's
//! value is bound by `let inner: T = ..;` (so `?` and coercions see `T`) and handed on by
//! `#[allow(unreachable_code)] return inner;`, which a diverging body must not make warn.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::args::{Args, Kind};

/// The instrumented function.
pub(crate) fn expand(kind: Kind, args: Args, mut item: ItemFn) -> TokenStream {
    if kind == Kind::Main {
        return expand_main(item);
    }
    let site = Ident::new("__PROFX_SITE", Span::mixed_site());
    let site_ty = Ident::new("__ProfxSite", Span::mixed_site());
    let state = Ident::new("__profx_state", Span::mixed_site());
    let ret = Ident::new("__profx_ret", Span::mixed_site());
    let inner = Ident::new("__profx_inner", Span::mixed_site());

    let name = match &args.name {
        Some(lit) => quote!(#lit),
        None => {
            let s = item.sig.ident.to_string();
            quote!(#s)
        }
    };
    let is_async = item.sig.asyncness.is_some();
    let Rebound {
        stmts: rebinds,
        renamed,
    } = rebind_args(&mut item);

    let (ret_ty, diverges) = match &item.sig.output {
        ReturnType::Default => (None, false),
        ReturnType::Type(_, ty) => (
            Some(erase_impl_trait((**ty).clone())),
            matches!(**ty, Type::Never(_)),
        ),
    };
    let annot = ret_ty.as_ref().map(|t| quote!(: #t));
    // `failure = f`: an `Err` that `f` does not call a failure is a success. (Spanned at `f`,
    // so that a type error points at what the user wrote.)
    let classify = |value: TokenStream, outcome: TokenStream| match &args.failure {
        Some((_, pred)) => {
            quote_spanned!(pred.span()=> ::profx::__private::classify(#value, #pred, #outcome))
        }
        None => outcome,
    };
    let outcome = if returns_result(&item.sig.output) {
        classify(
            quote!(&#ret),
            quote! {{
                #[allow(unused_imports)]
                use ::profx::__private::{ViaDisplay as _, ViaDebug as _, ViaResult as _};
                (&&&#ret).__profx_outcome()
            }},
        )
    } else {
        quote!(::profx::__private::success())
    };

    let start = match kind {
        Kind::Agent => {
            let request = match &args.request {
                Some(expr) => quote!(::core::option::Option::Some(
                    ::core::format_args!("{}", #expr)
                )),
                None => quote!(::core::option::Option::None),
            };
            let traceparent = match &args.traceparent {
                Some(expr) => quote_spanned!(expr.span()=>
                    ::profx::__private::TraceparentArg::traceparent(&(#expr))
                ),
                None => quote!(::core::option::Option::None),
            };
            let new = quote!(::profx::__private::AgentState::new(&#site, #request, #traceparent));
            match (&args.request, &args.traceparent) {
                // The request may name bindings of patterns that the signature no longer has:
                // bind them again, by reference, for the request alone. (`let`, so that the
                // request's temporaries end before those bindings.)
                (Some(_), _) | (_, Some(_)) if !renamed.is_empty() => {
                    let views = renamed.iter().map(|(arg, pat)| request_view(arg, pat));
                    quote!({ #(#views)* let #state = #new; #state })
                }
                _ => new,
            }
        }
        _ if is_async => quote!(::profx::__private::PhaseSpan::new_async(&#site)),
        _ => quote!(),
    };
    // A sync agent that names no request (and returns) has the shape of a sync phase.
    let sync_agent = kind == Kind::Agent
        && !is_async
        && args.request.is_none()
        && args.traceparent.is_none()
        && !diverges;
    let site_init = match args.threshold {
        Some(ns) => quote!(::profx::__private::Site::with_threshold(#name, #ns)),
        None => quote!(::profx::__private::Site::new(#name)),
    };
    let site_init = match args.long_lived {
        Some(_) => quote!(#site_init.long_lived()),
        None => site_init,
    };
    // A sync phase's or agent's span knows its site by type, so that it need not carry it.
    let site_ref = ((kind != Kind::Agent && !is_async) || sync_agent).then(|| {
        quote! {
            struct #site_ty;
            impl ::profx::__private::SiteRef for #site_ty {
                #[inline(always)]
                fn site() -> &'static ::profx::__private::Site {
                    &#site
                }
            }
        }
    });

    let block = &item.block;
    // `-> T` on the closure is only written when T has no inferred parts.
    let annot_closure = match &ret_ty {
        Some(t) if !has_infer(t) => quote!(-> #t),
        _ => quote!(),
    };
    // The body in a match arm: a temporary scope, so the temporaries of its tail expression
    // drop before the re-bound arguments, as at the end of a function body. The block is the
    // function's own, braces included: their span carries the edition, which decides whether
    // those temporaries drop before the body's locals (2024) or after (2021).
    let body = quote!(match () { () => #block });
    let run = if is_async {
        // `let` gives the block its type (for `?` and coercions); `return` rather than a tail
        // expression, so that a body that diverges leaves no unreachable code of ours to warn
        // about (the lint attribute covers this statement only, not the body).
        quote! {
            #state.run(async move {
                #(#rebinds)*
                let #inner #annot = #body;
                #[allow(unreachable_code)]
                return #inner;
            }).await
        }
    } else {
        quote! {
            #state.run_sync(move || #annot_closure {
                #(#rebinds)*
                #body
            })
        }
    };

    let sync_phase = kind == Kind::Phase && !is_async;
    let body_fn = Ident::new("__profx_body", Span::mixed_site());
    // A sync phase, and a sync agent without a request: the body is bound first, then run by
    // one of three tail calls: the plain call when nothing records (one load and a branch before
    // it), or the recorded one (TSC or any clock), which is handed the body's value by reference
    // to classify it.
    let armed = Ident::new("__profx_armed", Span::mixed_site());
    let tail_called = (sync_phase || sync_agent).then(|| {
        let param = match &ret_ty {
            Some(t) => quote!(#ret: &#t),
            None => quote!(#ret: &()),
        };
        let outcome = if returns_result(&item.sig.output) {
            classify(
                quote!(#ret),
                quote! {{
                    #[allow(unused_imports)]
                    use ::profx::__private::{ViaDisplay as _, ViaDebug as _, ViaResult as _};
                    (&&&*#ret).__profx_outcome()
                }},
            )
        } else {
            quote!({
                let _ = #ret;
                ::profx::__private::success()
            })
        };
        // Positive: the clock is the TSC; negative: not known to be (see `armed`).
        let positive = if sync_phase {
            quote!(1..)
        } else {
            quote!(#armed @ 1..)
        };
        let (recorded, any_clock) = if sync_phase {
            // Not a `Result`: never a failure, and no type to name (a body may diverge).
            let failed = if returns_result(&item.sig.output) {
                quote!(|#param| -> bool { #outcome.is_failure() })
            } else {
                quote!(|_| false)
            };
            let phase = quote!(::profx::__private::SyncPhase::<#site_ty>);
            (
                quote!(#phase::run(#body_fn, #failed)),
                quote!(#phase::run_any_clock(#body_fn, #failed)),
            )
        } else {
            // The outcome is told to the execution's end.
            let end = Ident::new("__profx_end", Span::mixed_site());
            let agent = quote!(::profx::__private::SyncAgent::<#site_ty>);
            let ended =
                quote!(|#param, #end: ::profx::__private::AgentEnd<'_>| #end.finish(#outcome));
            (
                quote!(#agent::run(#body_fn, #ended, #armed)),
                quote!(#agent::run_any_clock(#body_fn, #ended)),
            )
        };
        quote! {
            static #site: ::profx::__private::Site = #site_init;
            #site_ref
            let #body_fn = ::profx::__private::once(move || #annot_closure {
                #(#rebinds)*
                #body
            });
            match ::profx::__private::armed() {
                #positive => #recorded,
                0 => ::profx::__private::body(#body_fn),
                _ => #any_clock,
            }
        }
    });
    let body = if let Some(tail_called) = tail_called {
        tail_called
    } else if diverges {
        quote! {
            static #site: ::profx::__private::Site = #site_init;
            #site_ref
            let mut #state = #start;
            #run
        }
    } else {
        quote! {
            static #site: ::profx::__private::Site = #site_init;
            #site_ref
            let mut #state = #start;
            let #ret #annot = #run;
            #state.finish(#outcome);
            #ret
        }
    };
    let brace = block.brace_token.span.join();
    item.block =
        Box::new(syn::parse2(quote_spanned!(brace=> { #body })).expect("generated block parses"));
    quote!(#item)
}

fn expand_main(mut item: ItemFn) -> TokenStream {
    let guard = Ident::new("__profx_report", Span::mixed_site());
    let block = &item.block;
    let stmts = &block.stmts;
    let brace = block.brace_token.span.join();
    *item.block = syn::parse2(quote_spanned!(brace=> {
        let #guard = ::profx::ReportGuard::from_env();
        #(#stmts)*
    }))
    .expect("generated block parses");
    quote!(#item)
}

/// Whether the return type's last path segment is `Result`.
pub(crate) fn returns_result(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let mut ty = &**ty;
    loop {
        match ty {
            Type::Paren(p) => ty = &p.elem,
            Type::Group(g) => ty = &g.elem,
            _ => break,
        }
    }
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        _ => false,
    }
}

/// The type with every `impl Trait` replaced by `_`.
fn erase_impl_trait(mut ty: Type) -> Type {
    struct Erase;
    impl VisitMut for Erase {
        fn visit_type_mut(&mut self, t: &mut Type) {
            if let Type::ImplTrait(it) = t {
                let span = it.impl_token.span;
                *t = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](span),
                });
                return;
            }
            syn::visit_mut::visit_type_mut(self, t);
        }
    }
    Erase.visit_type_mut(&mut ty);
    ty
}

fn has_infer(ty: &Type) -> bool {
    struct Find(bool);
    impl<'a> syn::visit::Visit<'a> for Find {
        fn visit_type_infer(&mut self, _: &'a syn::TypeInfer) {
            self.0 = true;
        }
    }
    let mut f = Find(false);
    syn::visit::Visit::visit_type(&mut f, ty);
    f.0
}

/// What [`rebind_args`] gives.
struct Rebound {
    /// The statements that open the closure or async block.
    stmts: Vec<TokenStream>,
    /// The arguments renamed `__profx_argN`, with their pattern (`mut` removed), if it binds.
    renamed: Vec<(Ident, Pat)>,
}

/// Moves the arguments into the body in order, as rustc does for `async fn`, so that they drop
/// in the order they would without the attribute:
/// - `x` / `mut x`: `let x = x;` / `let mut x = x;` (`mut` moves from the signature here);
/// - any other pattern: the argument becomes `__profx_argN` and the body starts with
///   `let __profx_argN = __profx_argN; let <pattern> = __profx_argN;` (what the pattern does
///   not bind drops with `__profx_argN`, right after the pattern's bindings);
/// - `self` by value: `let _ = &self;`, so the closure captures all of it rather than the fields
///   it uses (which would drop them apart from the rest).
fn rebind_args(item: &mut ItemFn) -> Rebound {
    let mut out = Rebound {
        stmts: Vec::new(),
        renamed: Vec::new(),
    };
    for (i, arg) in item.sig.inputs.iter_mut().enumerate() {
        let pt = match arg {
            FnArg::Typed(pt) => pt,
            FnArg::Receiver(r) => {
                let by_value = r.reference.is_none() && !matches!(*r.ty, Type::Reference(_));
                if by_value {
                    let s = &r.self_token;
                    out.stmts.push(quote!(let _ = &#s;));
                }
                continue;
            }
        };
        if let Pat::Ident(p) = &mut *pt.pat {
            if p.by_ref.is_none() && p.subpat.is_none() {
                let m = p.mutability.take().map(|_| quote!(mut));
                let ident = &p.ident;
                out.stmts.push(quote!(let #m #ident = #ident;));
                continue;
            }
        }
        let arg = Ident::new(&format!("__profx_arg{i}"), Span::mixed_site());
        let pat = std::mem::replace(
            &mut *pt.pat,
            Pat::Ident(syn::PatIdent {
                attrs: Vec::new(),
                by_ref: None,
                mutability: None,
                ident: arg.clone(),
                subpat: None,
            }),
        );
        out.stmts.push(quote!(let #arg = #arg; let #pat = #arg;));
        let mut view = pat;
        let mut binds = false;
        strip_mut(&mut view, &mut binds);
        if binds {
            out.renamed.push((arg, view));
        }
    }
    out
}

/// Removes `mut` from the bindings of `pat`; says whether it binds anything.
fn strip_mut(pat: &mut Pat, binds: &mut bool) {
    struct Strip<'a>(&'a mut bool);
    impl VisitMut for Strip<'_> {
        fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
            *self.0 = true;
            p.mutability = None;
            syn::visit_mut::visit_pat_ident_mut(self, p);
        }
    }
    Strip(binds).visit_pat_mut(pat);
}

/// `let <pattern> = &<argument>;`, for the request expression: default binding modes make every
/// binding a reference into the argument. Nothing in the pattern may fight that mode (edition
/// 2024 refuses `ref`, `mut` and `&` under it), so the view drops them all: `&k` and `ref k`
/// become `k` (a reference, or a reference to one; `Display` is the same).
fn request_view(arg: &Ident, pat: &Pat) -> TokenStream {
    struct View;
    impl VisitMut for View {
        fn visit_pat_mut(&mut self, p: &mut Pat) {
            while let Pat::Reference(r) = p {
                *p = (*r.pat).clone();
            }
            syn::visit_mut::visit_pat_mut(self, p);
        }
        fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
            p.by_ref = None;
            p.mutability = None;
            syn::visit_mut::visit_pat_ident_mut(self, p);
        }
    }
    let mut pat = pat.clone();
    View.visit_pat_mut(&mut pat);
    quote!(#[allow(unused_variables)] let #pat = &#arg;)
}
