module github.com/distcache/distcache/sdk/policy

go 1.22
