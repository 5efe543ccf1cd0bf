fn main() {
    println!("kanjo");
}
