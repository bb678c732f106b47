// The CMSSW hls4ml emulator interface (hls4mlEmulator::Model and its loader), written by codesign from
// the documented API of cms-hls4ml/hls4mlEmulatorExtras: a model library `<Name>.so` exports
// `extern "C" Model* create_model()` and `extern "C" void destroy_model(Model*)`; ModelLoader(name)
// dlopens `name + ".so"` (RTLD_LAZY | RTLD_LOCAL) and hands out the model with its deleter.
// Licence: as the rest of codesign (this is an independent equivalent, not a copy).
#ifndef HLS4ML_EMULATOR_H_
#define HLS4ML_EMULATOR_H_

#include <any>
#include <memory>
#include <string>

namespace hls4mlEmulator {

class Model {
public:
    virtual void prepare_input(std::any input) = 0;
    virtual void predict() = 0;
    virtual void read_result(std::any result) = 0;
    virtual ~Model() = default;
};

typedef Model* create_model_cls();
typedef void destroy_model_cls(Model*);

class ModelLoader {
public:
    explicit ModelLoader(std::string const& model_name);
    ModelLoader(ModelLoader const&) = delete;
    ModelLoader& operator=(ModelLoader const&) = delete;
    ~ModelLoader();

    // Closes the current library (models handed out must be gone) and names another.
    void reset(std::string const& model_name = "");
    // dlopen(name + ".so"); throws std::runtime_error when the library or its symbols are missing.
    std::shared_ptr<Model> load_model();

private:
    std::string model_name_;
    void* model_lib_ = nullptr;
};

}  // namespace hls4mlEmulator

#endif
