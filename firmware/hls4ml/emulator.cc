// The loader of the CMSSW hls4ml emulator interface (see emulator.h).
#include "emulator.h"

#include <dlfcn.h>

#include <stdexcept>

namespace hls4mlEmulator {

ModelLoader::ModelLoader(std::string const& model_name) : model_name_(model_name) {}

ModelLoader::~ModelLoader() { reset(); }

void ModelLoader::reset(std::string const& model_name) {
    model_name_ = model_name;
    if (model_lib_ != nullptr) {
        dlclose(model_lib_);
        model_lib_ = nullptr;
    }
}

std::shared_ptr<Model> ModelLoader::load_model() {
    if (model_name_.empty()) throw std::runtime_error("hls4ml emulator: no model name given to the loader");
    std::string const library = model_name_ + ".so";
    model_lib_ = dlopen(library.c_str(), RTLD_LAZY | RTLD_LOCAL);
    if (model_lib_ == nullptr) throw std::runtime_error("hls4ml emulator: cannot load " + library + ": " + dlerror());
    auto* create = reinterpret_cast<create_model_cls*>(dlsym(model_lib_, "create_model"));
    auto* destroy = reinterpret_cast<destroy_model_cls*>(dlsym(model_lib_, "destroy_model"));
    if (create == nullptr || destroy == nullptr)
        throw std::runtime_error("hls4ml emulator: " + library + " lacks create_model or destroy_model");
    return std::shared_ptr<Model>(create(), [destroy](Model* model) { destroy(model); });
}

}  // namespace hls4mlEmulator
