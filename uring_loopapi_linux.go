package eddy

// The uring loop as a Loop (and so a future.Executor): loopCore has Execute, AfterFunc and Index.

func (g *uringEngine) loopList() []Loop {
	ls := make([]Loop, len(g.loops))
	for i, l := range g.loops {
		ls[i] = l
	}
	return ls
}
