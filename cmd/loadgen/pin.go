package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinning says where servers and this process run; CPU -1 means not
// pinned.
type pinning struct {
	ServerCPU int    `json:"server_cpu"`
	LoadCPU   int    `json:"load_cpu"`
	Note      string `json:"note,omitempty"` // why not pinned, when asked to
}

// pin moves this process to the second CPU it may run on and returns the
// first for the servers it starts, when taskset is installed and there
// are two CPUs; otherwise it pins nothing and says why.
func pin() pinning {
	none := pinning{ServerCPU: -1, LoadCPU: -1}
	if _, err := exec.LookPath("taskset"); err != nil {
		none.Note = "not pinned: taskset not found (apt-get install -y util-linux)"
		return none
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		none.Note = fmt.Sprintf("not pinned: %v", err)
		return none
	}
	var cpus []int
	for cpu := 0; cpu < 1024 && len(cpus) < 2; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	if len(cpus) < 2 {
		none.Note = "not pinned: fewer than 2 CPUs"
		return none
	}
	if err := pinSelf(cpus[1]); err != nil {
		none.Note = fmt.Sprintf("not pinned: %v", err)
		return none
	}
	return pinning{ServerCPU: cpus[0], LoadCPU: cpus[1]}
}

// pinSelf sets the affinity of every thread of this process to cpu (new
// threads inherit it from the thread that makes them) and runs Go code on
// one thread at a time.
func pinSelf(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	// Twice, for threads started while the first pass ran.
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pinning thread %d to CPU %d: %w", tid, cpu, err)
			}
		}
	}
	runtime.GOMAXPROCS(1)
	return nil
}
