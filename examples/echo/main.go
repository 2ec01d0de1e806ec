// Command echo will serve a WebSocket echo endpoint once the adapters land.
// Until then it says so and exits successfully.
package main

import "fmt"

func main() {
	fmt.Println("examples/echo: not yet — the echo server arrives with the adapters (issue 6)")
}
