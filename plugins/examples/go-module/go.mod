module example.com/mypolicy

go 1.24

require github.com/distcache/distcache/sdk/policy v0.0.0-00010101000000-000000000000

// sdk/policy is not published to a module proxy: point the requirement at
// a checkout of distcache. The path below is right where this example sits
// in the distcache repository; in your own module, make it the path of
// your checkout (or use a go.work; see README.md).
replace github.com/distcache/distcache/sdk/policy => ../../../sdk/policy
