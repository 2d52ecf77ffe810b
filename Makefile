# Thin wrapper over CMake: the two commands of the README, and a few more.
#   make run    - install what is missing, build, start the embedded default
#   make test   - install what is missing, build normal + sanitizer variants, run everything
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?=

.PHONY: all bootstrap build run test build-asan build-tsan fuzz bench bench-peers clean

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/tickgate

build-asan: bootstrap
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTG_ASAN=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

build-tsan: bootstrap
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DTG_TSAN=ON >/dev/null
	@cmake --build build-tsan -j$(JOBS)

fuzz: bootstrap
	@scripts/fuzz.sh

# test: release build, then ASan+UBSan build, then TSan for threaded units, then fuzzers.
test: build build-asan build-tsan
	@scripts/test.sh

bench: build
	@bench/run.sh

bench-peers: build
	@bench/peers.sh

# package: the Debian package (CPack DEB) in $(BUILD)/, e.g. build/tickgate_0.1.0_amd64.deb.
.PHONY: package
package: build
	@cd $(BUILD) && cpack -G DEB

clean:
	rm -rf build build-asan build-tsan build-fuzz
