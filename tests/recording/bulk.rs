//! `#[profx::phase]` and `#[profx::agent]` on `impl` blocks and inline modules record every
//! function inside under `Type::method` / `module::function`; `#[profx::skip]`, an explicit
//! attribute and `const fn`s are honoured.
#![cfg(feature = "enabled")]

pub struct Store {
    hits: u32,
}

pub trait Lookup {
    fn lookup(&self, key: &str) -> Option<u32>;
}

#[profx::phase]
impl Store {
    pub fn get(&self) -> u32 {
        self.hits
    }
    pub fn bump(&mut self) {
        self.hits += 1;
    }
    pub async fn load(&self) -> u32 {
        tokio::task::yield_now().await;
        self.hits
    }
    #[profx::skip]
    pub fn peek(&self) -> u32 {
        self.hits
    }
    #[profx::phase(name = "store-flush")]
    pub fn flush(&self) {}
    pub const fn capacity() -> usize {
        8
    }
}

#[profx::phase(failure = |e: &String| e != "missing")]
impl Lookup for Store {
    fn lookup(&self, key: &str) -> Option<u32> {
        (key == "a").then_some(self.hits)
    }
}

#[profx::phase]
mod codec {
    pub fn encode(x: u32) -> Result<u32, String> {
        if x == 0 {
            Err("zero".to_owned())
        } else {
            Ok(x * 2)
        }
    }
    pub mod inner {
        pub fn decode(x: u32) -> u32 {
            x / 2
        }
    }
}

pub struct Worker;

#[profx::agent]
impl Worker {
    pub fn run(&self, store: &mut Store) -> u32 {
        store.bump();
        let _ = store.peek();
        store.flush();
        let _ = store.lookup("a");
        let _ = codec::encode(3);
        let _ = codec::encode(0);
        codec::inner::decode(store.get())
    }
}

#[test]
fn every_function_of_a_block_is_recorded_under_its_place() {
    let mut store = Store { hits: 0 };
    for _ in 0..3 {
        Worker.run(&mut store);
    }
    assert_eq!(Store::capacity(), 8);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            assert_eq!(store.load().await, 3);
        });
    let report = profx::global().report();
    let worker = &report.agents["Worker::run"];
    assert_eq!(worker.total_executions, 3);
    let calls = |name: &str| worker.phases.get(name).map(|p| p.calls);
    assert_eq!(calls("Store::bump"), Some(3));
    assert_eq!(calls("Store::get"), Some(3));
    assert_eq!(
        calls("Lookup::lookup"),
        None,
        "a trait impl is named for the type"
    );
    assert_eq!(calls("Store::lookup"), Some(3));
    assert_eq!(calls("codec::encode"), Some(6));
    assert_eq!(calls("codec::inner::decode"), Some(3));
    // The explicit attribute wins; the skipped method and the `const fn` are not recorded.
    assert_eq!(calls("store-flush"), Some(3));
    assert_eq!(calls("Store::flush"), None);
    assert!(!report.phases.contains_key("Store::peek"));
    assert!(!report.phases.contains_key("Store::capacity"));
    // An `Err` is a failure (the module gives no `failure` predicate); the trait impl's
    // predicate went nowhere, as its method returns no `Result`.
    assert_eq!(worker.phases["codec::encode"].failures, 3);
    assert_eq!(worker.phases["Store::lookup"].failures, 0);
    // The async method, outside any agent.
    assert_eq!(report.phases["Store::load"].calls, 1);
}
