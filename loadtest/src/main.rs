fn main() {
    println!("kanjo-load");
}
