package jvm

// HotSpot's heap ergonomics (OpenJDK 17 Arguments::set_heap_size and the heap alignment that follows
// it), measured in FACTS.md B.4 and by TestMaxHeapForRealJVM against the installed java.
const (
	// defaultMaxHeapSize is MaxHeapSize's built-in value, ScaleForWordSize(96M) on 64-bit (124.8 MiB): the
	// heap is at least this unless memory is small (a 256 MiB limit gives 126 MiB once aligned).
	defaultMaxHeapSize = 96 * mib * 13 / 10 &^ 7
	// defaultMaxRAM is MaxRAM's built-in value on 64-bit: memory above it does not count unless a
	// RAM percentage or MaxRAM itself is set.
	defaultMaxRAM           = 128 * gib
	defaultMaxRAMPercentage = 25
	// defaultMinRAMPercentage is the share of small memory the heap takes. -XX:MinRAMPercentage and
	// -XX:MinRAMFraction are not parsed by Analyze, so the default is assumed; they only matter for
	// memory under about 250 MiB.
	defaultMinRAMPercentage = 50
	// heapAlignment is the smallest alignment of MaxHeapSize (the card table's: 512 B cards × 4 KiB pages).
	heapAlignment = 2 * mib
	// G1 aligns the heap to its region size: MaxHeapSize/2048 rounded up to a power of two, 1 to 32 MiB.
	g1TargetRegions = 2048
	g1MinRegion     = 1 * mib
	g1MaxRegion     = 32 * mib
)

// MaxHeapFor returns the max heap in bytes the JVM takes when its container's memory limit is limit
// bytes (the JVM reads the limit as its physical memory), as HotSpot (OpenJDK 17) sizes it:
//
//   - an explicit -Xmx / -XX:MaxHeapSize is the heap;
//   - otherwise ram is -XX:MaxRAM when set (it replaces the limit, also when larger), else the limit
//     (capped at 128 GiB unless a RAM percentage is set); when ram × MinRAMPercentage (50 %) is below
//     the built-in MaxHeapSize (124.8 MiB) the heap is that, else ram × MaxRAMPercentage (25 %, or the
//     -XX:MaxRAMPercentage / MaxRAMFraction set) but at least 124.8 MiB; an -Xms / InitialHeapSize /
//     MinHeapSize above it raises it to that;
//   - the result is aligned up to 2 MiB, or to G1's region size where that is larger (which G1 does,
//     and Serial does not: a few MiB too many for Serial, never too few).
//
// Settings the analysis sees but cannot tell reach the JVM (Occurrence.Hidden, with a known value) count
// when they make the heap larger, so the result is an upper bound. Settings of unknown value cannot be
// bounded: callers check Certain (and the occurrences) first. With no limit (limit <= 0) and no MaxRAM the
// heap follows the host's memory, which is unknown here: only explicit sizes count then.
func (h Heap) MaxHeapFor(limit int64) int64 {
	e := ergonomics{maxRAM: h.MaxRAM, percent: h.MaxRAMPercentage, xms: h.Xms}
	heap := h.MaxHeap
	if heap == 0 {
		heap = e.maxHeap(limit)
	}
	var hidden ergonomics
	for _, o := range h.Occurrences {
		if o.Hidden == "" || o.Invalid != "" {
			continue
		}
		switch o.Kind {
		case KindMaxHeap:
			heap = max(heap, o.Bytes)
		case KindMaxRAMPercentage, KindMaxRAMFraction:
			hidden.percent = max(hidden.percent, o.Percent)
		case KindMaxRAM:
			hidden.maxRAM = max(hidden.maxRAM, o.Bytes)
		case KindXms, KindInitialHeap, KindMinHeap:
			hidden.xms = max(hidden.xms, o.Bytes)
		}
	}
	if h.MaxHeap == 0 && hidden != (ergonomics{}) {
		// The ergonomic heap grows with ram, the percentage and -Xms: the largest of each bounds it.
		both := ergonomics{ram: max(e.physical(limit), hidden.maxRAM), percent: max(e.percent, hidden.percent), xms: max(e.xms, hidden.xms)}
		heap = max(heap, both.maxHeap(limit))
	}
	return alignHeap(heap)
}

// ergonomics are the settings HotSpot sizes the heap from when no explicit max heap applies.
type ergonomics struct {
	ram     int64   // the memory to size from, when already decided (0: from maxRAM and the limit)
	maxRAM  int64   // -XX:MaxRAM; 0 when unset
	percent float64 // -XX:MaxRAMPercentage (or 100/MaxRAMFraction); 0 when unset
	xms     int64   // the effective -Xms / InitialHeapSize / MinHeapSize; 0 when unset
}

// physical is the memory HotSpot takes the heap from: MaxRAM when set; else the container limit, capped
// at MaxRAM's default unless a percentage is set (then the limit counts in full); 0 when unknown.
func (e ergonomics) physical(limit int64) int64 {
	switch {
	case e.ram > 0:
		return e.ram
	case e.maxRAM > 0:
		return e.maxRAM
	case limit <= 0:
		return 0
	case e.percent > 0:
		return limit
	}
	return min(limit, defaultMaxRAM)
}

// maxHeap is Arguments::set_heap_size for a MaxHeapSize left at its default, before alignment.
func (e ergonomics) maxHeap(limit int64) int64 {
	ram := e.physical(limit)
	if ram <= 0 {
		return e.xms
	}
	pct := e.percent
	if pct <= 0 {
		pct = defaultMaxRAMPercentage
	}
	heap := int64(float64(ram) * pct / 100)
	if reasonableMin := int64(float64(ram) * defaultMinRAMPercentage / 100); reasonableMin < defaultMaxHeapSize {
		heap = reasonableMin // small memory: a minimum share of it
	} else {
		heap = max(heap, defaultMaxHeapSize)
	}
	return max(heap, e.xms)
}

// alignHeap rounds a max heap up the way the JVM aligns MaxHeapSize.
func alignHeap(b int64) int64 {
	if b <= 0 {
		return b
	}
	region := int64(g1MinRegion)
	for region < b/g1TargetRegions && region < g1MaxRegion {
		region *= 2
	}
	a := max(int64(heapAlignment), region)
	if b > maxMaxHeap*8 { // far beyond any container; keeps the arithmetic below from overflowing
		return b
	}
	return (b + a - 1) / a * a
}
