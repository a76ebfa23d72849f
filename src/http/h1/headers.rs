#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue { Single(String), List(Vec<String>) }
impl HeaderValue { pub fn as_str(&self) -> &str { todo!() } pub fn iter(&self) -> impl Iterator<Item=&str> { std::iter::empty() } }
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers { e: Vec<(String, HeaderValue)> }
impl Headers { pub fn new() -> Self { todo!() } pub fn get(&self, n: &str) -> Option<&str> { todo!() } pub fn get_value(&self, n: &str) -> Option<&HeaderValue> { todo!() }
 pub fn contains(&self, n: &str) -> bool { todo!() } pub fn iter(&self) -> impl Iterator<Item=(&str, &HeaderValue)> { self.e.iter().map(|(a,b)| (a.as_str(), b)) } pub fn len(&self) -> usize { 0 } pub fn is_empty(&self) -> bool { true }
 pub fn append_field(&mut self, name: &str, value: &str) {} pub fn append_raw(&mut self, name: &[u8], value: &[u8]) {} }
